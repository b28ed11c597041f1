//! Reading an HTTP reply body with a ceiling: the reading stops as soon as the body is larger
//! than allowed, so a hostile or broken server cannot make Baton buffer without bound.

/// The body of `response`, or `Ok(None)` once it proves larger than `limit` bytes (by its
/// `Content-Length` or by what arrived); nothing past the limit is kept.
pub async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Option<Vec<u8>>, reqwest::Error> {
    if response
        .content_length()
        .is_some_and(|len| len > limit as u64)
    {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}
