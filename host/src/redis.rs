//! `fermyon:spin/redis@2.0.0` as Spin's `crates/factor-outbound-redis`
//! implements it: `open` checks the address against the component's
//! `allowed_outbound_hosts` (`redis://host:port`, default port 6379) and
//! answers `invalid-address` when it is not allowed or not a Redis URL;
//! a connection is the redis crate's multiplexed async connection, held
//! until the component drops it; failures to connect or of a command are
//! `other(<the redis crate's message>)`; `execute` flattens nested replies
//! into one list, as Spin does. Not implemented, as this project does not
//! use them: TLS (`rediss://`), Spin's connection semaphore and its
//! blocked-networks DNS filter.

use crate::bindings::fermyon::spin::redis::{self as r, Error, RedisParameter, RedisResult};
use crate::outbound::AllowedHost;
use crate::resources::RedisConnection;
use crate::state::HostState;
use crate::telemetry;
use redis::Value;
use tracing::field::Empty;
use wasmtime::component::Resource;
use wasmtime::Result;

impl r::Host for HostState {}

impl r::HostConnection for HostState {
    #[tracing::instrument(name = "spin_outbound_redis.open_connection", skip(self, address),
        fields(otel.kind = "client", db.system.name = "redis", server.address = Empty,
        server.port = Empty, db.namespace = Empty))]
    async fn open(&mut self, address: String) -> Result<Result<Resource<RedisConnection>, Error>> {
        let opened = self.open_redis(address).await;
        telemetry::record_error(&opened);
        opened
    }

    #[tracing::instrument(name = "spin_outbound_redis.publish", skip(self, connection, payload),
        fields(otel.kind = "client", db.system.name = "redis", otel.name = %format!("PUBLISH {channel}")))]
    async fn publish(
        &mut self,
        connection: Resource<RedisConnection>,
        channel: String,
        payload: Vec<u8>,
    ) -> Result<Result<(), Error>> {
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(channel).arg(payload);
        Ok(self.run::<()>(&connection, cmd).await)
    }

    #[tracing::instrument(name = "spin_outbound_redis.get", skip(self, connection),
        fields(otel.kind = "client", db.system.name = "redis", otel.name = %format!("GET {key}")))]
    async fn get(
        &mut self,
        connection: Resource<RedisConnection>,
        key: String,
    ) -> Result<Result<Option<Vec<u8>>, Error>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        Ok(self.run(&connection, cmd).await)
    }

    #[tracing::instrument(name = "spin_outbound_redis.set", skip(self, connection, value),
        fields(otel.kind = "client", db.system.name = "redis", otel.name = %format!("SET {key}")))]
    async fn set(
        &mut self,
        connection: Resource<RedisConnection>,
        key: String,
        value: Vec<u8>,
    ) -> Result<Result<(), Error>> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        Ok(self.run::<()>(&connection, cmd).await)
    }

    #[tracing::instrument(name = "spin_outbound_redis.incr", skip(self, connection),
        fields(otel.kind = "client", db.system.name = "redis", otel.name = %format!("INCRBY {key} 1")))]
    async fn incr(
        &mut self,
        connection: Resource<RedisConnection>,
        key: String,
    ) -> Result<Result<i64, Error>> {
        let mut cmd = redis::cmd("INCRBY");
        cmd.arg(key).arg(1);
        Ok(self.run(&connection, cmd).await)
    }

    #[tracing::instrument(name = "spin_outbound_redis.del", skip(self, connection),
        fields(otel.kind = "client", db.system.name = "redis", otel.name = %format!("DEL {}", keys.join(" "))))]
    async fn del(
        &mut self,
        connection: Resource<RedisConnection>,
        keys: Vec<String>,
    ) -> Result<Result<u32, Error>> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(keys);
        Ok(self.run(&connection, cmd).await)
    }

    #[tracing::instrument(name = "spin_outbound_redis.sadd", skip(self, connection, values),
        fields(otel.kind = "client", db.system.name = "redis", otel.name = %format!("SADD {key} {}", values.join(" "))))]
    async fn sadd(
        &mut self,
        connection: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Result<Result<u32, Error>> {
        let mut cmd = redis::cmd("SADD");
        cmd.arg(key).arg(values);
        Ok(self.run(&connection, cmd).await)
    }

    #[tracing::instrument(name = "spin_outbound_redis.smembers", skip(self, connection),
        fields(otel.kind = "client", db.system.name = "redis", otel.name = %format!("SMEMBERS {key}")))]
    async fn smembers(
        &mut self,
        connection: Resource<RedisConnection>,
        key: String,
    ) -> Result<Result<Vec<String>, Error>> {
        let mut cmd = redis::cmd("SMEMBERS");
        cmd.arg(key);
        Ok(self.run(&connection, cmd).await)
    }

    #[tracing::instrument(name = "spin_outbound_redis.srem", skip(self, connection, values),
        fields(otel.kind = "client", db.system.name = "redis", otel.name = %format!("SREM {key} {}", values.join(" "))))]
    async fn srem(
        &mut self,
        connection: Resource<RedisConnection>,
        key: String,
        values: Vec<String>,
    ) -> Result<Result<u32, Error>> {
        let mut cmd = redis::cmd("SREM");
        cmd.arg(key).arg(values);
        Ok(self.run(&connection, cmd).await)
    }

    #[tracing::instrument(name = "spin_outbound_redis.execute", skip(self, connection, arguments),
        fields(otel.kind = "client", db.system.name = "redis", otel.name = %command))]
    async fn execute(
        &mut self,
        connection: Resource<RedisConnection>,
        command: String,
        arguments: Vec<RedisParameter>,
    ) -> Result<Result<Vec<RedisResult>, Error>> {
        let mut cmd = redis::cmd(&command);
        for argument in arguments {
            match argument {
                RedisParameter::Int64(value) => cmd.arg(value),
                RedisParameter::Binary(value) => cmd.arg(value),
            };
        }
        let value: Result<Value, Error> = self.run(&connection, cmd).await;
        Ok(value.and_then(|value| {
            let mut results = Vec::new();
            flatten(&value, &mut results).map(|()| results)
        }))
    }

    async fn drop(&mut self, connection: Resource<RedisConnection>) -> Result<()> {
        self.table.delete(connection)?;
        Ok(())
    }
}

impl HostState {
    async fn open_redis(
        &mut self,
        address: String,
    ) -> Result<Result<Resource<RedisConnection>, Error>> {
        if !is_allowed(&address, &self.outbound.allowed) {
            if let Some(destination) = destination(&address) {
                crate::outbound::warn_disallowed(&destination);
            }
            return Ok(Err(Error::InvalidAddress));
        }
        let client = match redis::Client::open(address.as_str()) {
            Ok(client) => client,
            Err(_) => return Ok(Err(Error::InvalidAddress)),
        };
        match client.get_multiplexed_async_connection().await {
            Ok(connection) => Ok(Ok(self.table.push(RedisConnection { connection })?)),
            Err(error) => Ok(Err(Error::Other(error.to_string()))),
        }
    }

    /// Runs `cmd` on the connection; a failure is `other(message)`, as in
    /// Spin (which answers `type-error` only for `sadd`).
    async fn run<T: redis::FromRedisValue>(
        &mut self,
        connection: &Resource<RedisConnection>,
        cmd: redis::Cmd,
    ) -> Result<T, Error> {
        let mut conn = match self.table.get(connection) {
            Ok(open) => open.connection.clone(),
            Err(_) => {
                return Err(Error::Other(
                    "could not find connection for resource".into(),
                ))
            }
        };
        let result = cmd
            .query_async(&mut conn)
            .await
            .map_err(|error| Error::Other(error.to_string()));
        if let Err(error) = &result {
            // The command's span fails, as Spin's `err` instrumentation does.
            tracing::info!(error = ?error);
        }
        result
    }
}

/// Spin's mapping of a reply to `list<redis-result>`: arrays and sets are
/// flattened, `OK` is `status("OK")`; maps and other RESP3 types fail.
fn flatten(value: &Value, out: &mut Vec<RedisResult>) -> Result<(), Error> {
    match value {
        Value::Nil => out.push(RedisResult::Nil),
        Value::Int(v) => out.push(RedisResult::Int64(*v)),
        Value::BulkString(bytes) => out.push(RedisResult::Binary(bytes.clone())),
        Value::SimpleString(s) => out.push(RedisResult::Status(s.clone())),
        Value::Okay => out.push(RedisResult::Status("OK".into())),
        Value::Array(items) | Value::Set(items) => {
            for item in items {
                flatten(item, out)?;
            }
        }
        Value::Double(v) => out.push(RedisResult::Binary(v.to_string().into_bytes())),
        Value::Boolean(v) => out.push(RedisResult::Int64(i64::from(*v))),
        Value::ServerError(error) => return Err(Error::Other(format!("{error:?}"))),
        _ => return Err(Error::Other("Redis reply type is not supported".into())),
    }
    Ok(())
}

/// `redis://host[:port]` must be allowed for the scheme `redis`.
/// `redis://host:port` of an address, as Spin names it when refused.
fn destination(address: &str) -> Option<String> {
    let url = url::Url::parse(address).ok()?;
    Some(format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str()?,
        url.port().unwrap_or(6379)
    ))
}

fn is_allowed(address: &str, allowed: &[AllowedHost]) -> bool {
    let Ok(url) = url::Url::parse(address) else {
        return false;
    };
    let Some(host) = url.host_str() else {
        return false;
    };
    url.scheme() == "redis"
        && allowed
            .iter()
            .any(|a| a.allows_address("redis", host, url.port().unwrap_or(6379)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_redis_addresses_open() {
        let allowed = [AllowedHost::parse("redis://cache:6379").unwrap()];
        assert!(is_allowed("redis://cache:6379", &allowed));
        assert!(is_allowed("redis://:pw@cache", &allowed), "default port");
        assert!(is_allowed("redis://cache:6379/2", &allowed), "a database");
        assert!(!is_allowed("redis://cache:6380", &allowed));
        assert!(!is_allowed("redis://other:6379", &allowed));
        assert!(!is_allowed("http://cache:6379", &allowed));
        assert!(!is_allowed("not a url", &allowed));
    }

    #[test]
    fn nested_replies_flatten_like_spin() {
        let reply = Value::Array(vec![
            Value::BulkString(b"1-0".to_vec()),
            Value::Array(vec![Value::Int(3), Value::Nil]),
            Value::Okay,
        ]);
        let mut out = Vec::new();
        flatten(&reply, &mut out).unwrap();
        assert_eq!(out.len(), 4);
        assert!(matches!(&out[0], RedisResult::Binary(b) if b == b"1-0"));
        assert!(matches!(out[1], RedisResult::Int64(3)));
        assert!(matches!(out[2], RedisResult::Nil));
        assert!(matches!(&out[3], RedisResult::Status(s) if s == "OK"));
    }
}
