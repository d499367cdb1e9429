//! `mint-token`: prints an access token shaped exactly like one from
//! Django SimpleJWT 5.5 (`token_type`, `exp`, `iat`, `jti`, `user_id` as a
//! string), signed HS256 with the shared key. For local runs only.

use clap::Parser;
use jwt_simple::prelude::*;

#[derive(Parser)]
#[command(about = "Mint a SimpleJWT-style access token for local testing")]
struct Args {
    #[arg(long, default_value_t = 42)]
    user_id: i64,
    #[arg(long, default_value_t = 3600)]
    lifetime_seconds: u64,
    #[arg(long, env = "SPIN_VARIABLE_JWT_SIGNING_KEY", hide_env_values = true)]
    jwt_signing_key: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut key = args.jwt_signing_key.into_bytes();
    anyhow::ensure!(!key.is_empty(), "the signing key must not be empty");
    key.resize(key.len().max(12), 0); // HMAC zero-pads short keys anyway
    let custom = serde_json::json!({"token_type": "access", "user_id": args.user_id.to_string()});
    // SimpleJWT's jti is a uuid4 in hex.
    let jti = uuid::Uuid::new_v4().simple().to_string();
    let claims = Claims::with_custom_claims(custom, Duration::from_secs(args.lifetime_seconds))
        .with_jwt_id(jti);
    println!("{}", HS256Key::from_bytes(&key).authenticate(claims)?);
    Ok(())
}
