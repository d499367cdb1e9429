//! Reading a JSON request body safely: media type first, then a hard size
//! cap enforced while streaming (a large body is never buffered whole).

use super::error::ApiError;
use futures::StreamExt;
use spin_sdk::http::IncomingRequest;
use std::pin::pin;

/// SPEC §3: create-order bodies are at most 64 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads and parses the body as JSON, or says why not (415, 413, 400).
pub async fn read_json(
    request: IncomingRequest,
    content_type: Option<&str>,
    content_length: Option<&str>,
) -> Result<serde_json::Value, ApiError> {
    let body = read_bytes(request, content_type, content_length).await?;
    serde_json::from_slice(&body).map_err(|_| ApiError::ParseError)
}

/// Reads the exact bytes of a JSON body (what a signature covers), or says
/// why not (415, 413, 400).
pub async fn read_bytes(
    request: IncomingRequest,
    content_type: Option<&str>,
    content_length: Option<&str>,
) -> Result<Vec<u8>, ApiError> {
    if !is_json(content_type) {
        return Err(ApiError::UnsupportedMediaType);
    }
    let too_large = ApiError::RequestTooLarge {
        limit: MAX_BODY_BYTES,
    };
    if content_length
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
    {
        return Err(too_large);
    }
    let mut body = Vec::new();
    let mut chunks = pin!(request.into_body_stream());
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| ApiError::ParseError)?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `application/json`, any case, optionally with parameters such as charset.
fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::is_json;

    #[test]
    fn media_type_check() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        for bad in [
            None,
            Some(""),
            Some("text/plain"),
            Some("application/jsonx"),
            Some("application/x-www-form-urlencoded"),
        ] {
            assert!(!is_json(bad), "{bad:?}");
        }
    }
}
