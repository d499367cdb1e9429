//! Reading a JSON request body safely: media type first, then a hard size
//! cap enforced while streaming (a large body is never buffered whole).

use super::error::ApiError;
use futures::StreamExt;
use spin_sdk::http::IncomingRequest;
use std::pin::pin;

/// SPEC §3: create-order bodies are at most 64 KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How much of a refused body is read and thrown away before answering
/// 413. A server that closes a connection with request bytes still unread
/// resets it, and the client can lose the answer already sent (seen under
/// Spin 4.1 with bodies just over 64 KiB: a 413 cut off mid-body). The
/// gateway caps bodies at 1 MiB; a larger one is answered without.
const DRAINED_AT_MOST: u64 = 1024 * 1024;

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
    let declared = content_length.and_then(|v| v.trim().parse::<u64>().ok());
    let mut chunks = pin!(request.into_body_stream());
    if let Some(length) = declared.filter(|length| *length > MAX_BODY_BYTES as u64) {
        if length <= DRAINED_AT_MOST {
            drain(chunks.as_mut(), DRAINED_AT_MOST).await;
        }
        return Err(too_large);
    }
    let mut body = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| ApiError::ParseError)?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            let read = (body.len() + chunk.len()) as u64;
            drain(chunks.as_mut(), DRAINED_AT_MOST.saturating_sub(read)).await;
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads and discards up to `limit` more bytes of a body.
async fn drain<S, E>(mut chunks: std::pin::Pin<&mut S>, limit: u64)
where
    S: futures::Stream<Item = Result<Vec<u8>, E>>,
{
    let mut read = 0u64;
    while read < limit {
        match chunks.next().await {
            Some(Ok(chunk)) => read += chunk.len() as u64,
            _ => return,
        }
    }
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
