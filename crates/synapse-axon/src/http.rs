//! The Axon's HTTPS routes, with the reference's paths, permissions, envelopes, headers and
//! status codes: streaming upload, has, download (with one byte range) and delete.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Method, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use serde_json::{Value as Json, json};
use synapse_cell::{Body, HttpReq, HttpResponse, Route, err, full, handler, ok};

use crate::axon::Axon;
use crate::error::Error;
use crate::hash::Sha256;

/// Download pieces over HTTP (no chunking to preserve there).
const HTTP_PIECE: u64 = 1024 * 1024;

/// Tornado's Etag of an empty body (it adds one to bodiless 200 GET/HEAD responses).
const EMPTY_ETAG: &str = "\"da39a3ee5e6b4b0d3255bfef95601890afd80709\"";

/// Early return of a response from a `Result<T, HttpResponse>`.
macro_rules! tryresp {
    ($expr:expr) => {
        match $expr {
            Ok(valu) => valu,
            Err(resp) => return resp,
        }
    };
}

/// The Axon's routes.
pub(crate) fn routes(axon: Axon) -> Vec<Route> {
    let axon = Arc::new(axon);
    let on = |axon: &Arc<Axon>, func: fn(Arc<Axon>, HttpReq) -> futures::future::BoxFuture<'static, HttpResponse>| {
        let axon = axon.clone();
        handler(move |req| func(axon.clone(), req))
    };
    vec![
        Route::new("/api/v1/axon/files/del").post(on(&axon, |a, r| Box::pin(dels(a, r)))),
        Route::new("/api/v1/axon/files/put")
            .put(on(&axon, |a, r| Box::pin(upload(a, r))))
            .post(on(&axon, |a, r| Box::pin(upload(a, r)))),
        Route::new("/api/v1/axon/files/has/sha256/([0-9a-fA-F]{64}$)")
            .get(on(&axon, |a, r| Box::pin(has(a, r)))),
        Route::new("/api/v1/axon/files/by/sha256/([0-9a-fA-F]{64}$)")
            .get(on(&axon, |a, r| Box::pin(by_sha256(a, r))))
            .head(on(&axon, |a, r| Box::pin(by_sha256(a, r))))
            .delete(on(&axon, |a, r| Box::pin(delete(a, r)))),
        Route::new("/api/v1/axon/files/by/sha256/(.*)")
            .get(on(&axon, |a, r| Box::pin(invalid(a, r))))
            .head(on(&axon, |a, r| Box::pin(invalid(a, r))))
            .delete(on(&axon, |a, r| Box::pin(invalid(a, r)))),
    ]
}

fn fail(error: Error) -> HttpResponse {
    let status = match &error {
        Error::NoSuchFile { .. } => StatusCode::NOT_FOUND,
        Error::BadArg { .. } | Error::HitLimit(_) | Error::BadDataValu { .. } => {
            StatusCode::BAD_REQUEST
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    tracing::warn!(cause = %error, "axon http request failed");
    err(status, error.name(), &error.mesg())
}

fn html_status(status: StatusCode) -> HttpResponse {
    let code = status.as_u16();
    let reason = status.canonical_reason().unwrap_or("Unknown");
    let mut resp = Response::new(full(format!(
        "<html><title>{code}: {reason}</title><body>{code}: {reason}</body></html>"
    )));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    resp
}

fn sha_param(req: &HttpReq) -> Option<Sha256> {
    Sha256::from_hex(req.param(0))
}

async fn upload(axon: Arc<Axon>, mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_allowed(&["axon", "upload"], false, None).await);
    let mut body = req.take_body();
    let mut upload = axon.upload_hashset();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(cause) => {
                tracing::debug!(%cause, "upload body ended early: discarding it");
                return err(
                    StatusCode::BAD_REQUEST,
                    "BadArg",
                    "The request body was interrupted.",
                );
            }
        };
        if let Ok(data) = frame.into_data()
            && let Err(error) = upload.write(data).await
        {
            return fail(error);
        }
    }
    match upload.save_hashset().await {
        Ok((size, _, Some(set))) => ok(json!({
            "md5": set.md5,
            "sha1": set.sha1,
            "sha256": set.sha256,
            "sha512": set.sha512,
            "size": size,
        })),
        Ok((_, _, None)) => fail(Error::Inconsistent("no hash set".into())),
        Err(error) => fail(error),
    }
}

async fn has(axon: Arc<Axon>, mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_allowed(&["axon", "has"], false, None).await);
    let Some(sha256) = sha_param(&req) else {
        return html_status(StatusCode::NOT_FOUND);
    };
    match axon.has(&sha256).await {
        Ok(has) => ok(Json::Bool(has)),
        Err(error) => fail(error),
    }
}

/// The first range of a `Range:` header, as the reference parses it: `Ok(None)` for no
/// usable range, `Err(())` where the reference fails (a 500).
fn parse_range(header: Option<&str>, blobsize: u64) -> Result<Option<(i128, i128)>, ()> {
    let Some(header) = header else {
        return Ok(None);
    };
    let header = header.trim().to_lowercase();
    let Some(spec) = header.strip_prefix("bytes=") else {
        return Ok(None);
    };
    let pyint = |text: &str| -> Result<i128, ()> {
        let text = text.trim();
        let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(());
        }
        text.parse::<i128>().map_err(|_| ())
    };
    let mut first = None;
    for part in spec.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (soff, eoff) = part.split_once('-').ok_or(())?;
        let soff = pyint(soff)?;
        let eoff = match eoff.trim() {
            "" => i128::from(blobsize),
            text => pyint(text)? + 1,
        };
        if first.is_none() {
            first = Some((soff, eoff));
        }
    }
    Ok(first)
}

async fn by_sha256(axon: Arc<Axon>, mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_allowed(&["axon", "get"], false, None).await);
    let head = req.request().method() == Method::HEAD;
    let Some(sha256) = sha_param(&req) else {
        return html_status(StatusCode::NOT_FOUND);
    };
    let blobsize = match axon.size(&sha256).await {
        Ok(Some(size)) => size,
        Ok(None) => {
            let mut resp = err(
                StatusCode::NOT_FOUND,
                "NoSuchFile",
                &format!("SHA-256 not found: {}", sha256.hex()),
            );
            if head {
                head_only(&mut resp);
            }
            return resp;
        }
        Err(error) => return fail(error),
    };
    let range = match parse_range(req.header("range"), blobsize) {
        Ok(range) => range,
        Err(()) => return html_status(StatusCode::INTERNAL_SERVER_ERROR),
    };
    let mut builder = Response::builder().header(header::ACCEPT_RANGES, "bytes");
    let (status, read, length) = match range {
        None => (StatusCode::OK, None, blobsize),
        Some((soff, eoff)) => {
            let cont_len = eoff - soff;
            if cont_len < 1
                || soff >= i128::from(blobsize)
                || soff + cont_len > i128::from(blobsize)
            {
                let mut resp = Response::new(full(Bytes::new()));
                *resp.status_mut() = StatusCode::RANGE_NOT_SATISFIABLE;
                let headers = resp.headers_mut();
                headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
                headers.insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=UTF-8"),
                );
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
                return resp;
            }
            // 0 <= soff < soff + cont_len <= blobsize: both fit in u64.
            let (soff, cont_len) = (soff as u64, cont_len as u64);
            builder = builder.header(
                header::CONTENT_RANGE,
                format!("bytes {soff}-{}/{blobsize}", soff + cont_len - 1),
            );
            (
                StatusCode::PARTIAL_CONTENT,
                Some((soff, cont_len)),
                cont_len,
            )
        }
    };
    builder = builder
        .status(status)
        .header(header::CONTENT_LENGTH, length)
        .header(header::CONTENT_DISPOSITION, "attachment")
        .header(header::CONTENT_TYPE, "application/octet-stream");
    let body: Body = if head || length == 0 {
        if status == StatusCode::OK {
            builder = builder.header(header::ETAG, EMPTY_ETAG);
        }
        full(Bytes::new())
    } else {
        let pieces = match axon.read(&sha256, read, HTTP_PIECE).await {
            Ok(pieces) => pieces,
            Err(error) => return fail(error),
        };
        let frames = pieces.map(|piece| match piece {
            Ok(byts) => Ok(http_body::Frame::data(Bytes::from(byts))),
            Err(error) => {
                tracing::warn!(cause = %error, "axon download failed");
                Err(Box::new(error) as synapse_cell::BoxError)
            }
        });
        BodyExt::boxed(StreamBody::new(frames))
    };
    builder
        .body(body)
        .unwrap_or_else(|_| html_status(StatusCode::INTERNAL_SERVER_ERROR))
}

/// Keep the headers of a response but send no body (HEAD).
fn head_only(resp: &mut HttpResponse) {
    *resp.body_mut() = full(Bytes::new());
}

async fn delete(axon: Arc<Axon>, mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_allowed(&["axon", "del"], false, None).await);
    let text = req.param(0).to_string();
    let Some(sha256) = Sha256::from_hex(&text) else {
        return html_status(StatusCode::NOT_FOUND);
    };
    match axon.has(&sha256).await {
        Ok(true) => {}
        Ok(false) => {
            return err(
                StatusCode::NOT_FOUND,
                "NoSuchFile",
                &format!("SHA-256 not found: {text}"),
            );
        }
        Err(error) => return fail(error),
    }
    match axon.del(&sha256).await {
        Ok(removed) => ok(Json::Bool(removed)),
        Err(error) => fail(error),
    }
}

async fn invalid(_axon: Arc<Axon>, mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_user().await);
    if req.request().method() == Method::HEAD {
        let mut resp = Response::new(full(Bytes::new()));
        *resp.status_mut() = StatusCode::NOT_FOUND;
        return resp;
    }
    err(
        StatusCode::NOT_FOUND,
        "BadArg",
        &format!("Hash is not a SHA-256: {}", req.param(0)),
    )
}

/// The body schema of the bulk delete: `{"sha256s": [hex, ...]}` and nothing else.
fn check_dels(body: &Json) -> Result<Vec<String>, String> {
    let violation =
        |mesg: &str, name: &str| format!("SchemaViolation: mesg='{mesg}' name='{name}'");
    let Json::Object(items) = body else {
        return Err(violation("data must be object", "data"));
    };
    for key in items.keys() {
        if key != "sha256s" {
            return Err(violation(
                &format!("data must not contain {{'{key}'}} properties"),
                "data",
            ));
        }
    }
    let Some(list) = items.get("sha256s") else {
        return Err(violation(
            "data must contain ['sha256s'] properties",
            "data",
        ));
    };
    let Json::Array(list) = list else {
        return Err(violation("data.sha256s must be array", "data.sha256s"));
    };
    let mut out = Vec::with_capacity(list.len());
    for (indx, item) in list.iter().enumerate() {
        let name = format!("data.sha256s[{indx}]");
        let Json::String(text) = item else {
            return Err(violation(&format!("{name} must be string"), &name));
        };
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(violation(
                &format!("{name} must match pattern (?i)^[0-9a-f]{{64}}$"),
                &name,
            ));
        }
        out.push(text.clone());
    }
    Ok(out)
}

async fn dels(axon: Arc<Axon>, mut req: HttpReq) -> HttpResponse {
    tryresp!(req.req_allowed(&["axon", "del"], false, None).await);
    let body = tryresp!(req.json_body().await);
    let texts = match check_dels(&body) {
        Ok(texts) => texts,
        Err(mesg) => return err(StatusCode::BAD_REQUEST, "SchemaViolation", &mesg),
    };
    let mut out = Vec::with_capacity(texts.len());
    for text in texts {
        let removed = match Sha256::from_hex(&text) {
            Some(sha256) => match axon.del(&sha256).await {
                Ok(removed) => removed,
                Err(error) => return fail(error),
            },
            None => false,
        };
        out.push(json!([text, removed]));
    }
    ok(Json::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_the_reference() {
        assert_eq!(parse_range(Some("bytes=2-5"), 16), Ok(Some((2, 6))));
        assert_eq!(parse_range(Some(" Bytes=6- "), 16), Ok(Some((6, 16))));
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 16), Ok(Some((0, 2))));
        assert_eq!(parse_range(Some("bytes=5-2"), 16), Ok(Some((5, 3))));
        assert_eq!(parse_range(Some("bytes=-5"), 16), Err(()));
        assert_eq!(parse_range(Some("bytes=x-5"), 16), Err(()));
        assert_eq!(parse_range(Some("bytes=5"), 16), Err(()));
        assert_eq!(parse_range(Some("items=1-2"), 16), Ok(None));
        assert_eq!(parse_range(Some("bytes=,"), 16), Ok(None));
        assert_eq!(parse_range(None, 16), Ok(None));
    }

    #[test]
    fn dels_schema() {
        let good = json!({"sha256s": ["00".repeat(32), "AB".repeat(32)]});
        assert_eq!(check_dels(&good).unwrap().len(), 2);
        assert_eq!(
            check_dels(&json!({"sha256s": ["newp"]})).unwrap_err(),
            "SchemaViolation: mesg='data.sha256s[0] must match pattern (?i)^[0-9a-f]{64}$' name='data.sha256s[0]'"
        );
        assert!(check_dels(&json!({})).is_err());
        assert!(check_dels(&json!({"sha256s": [], "x": 1})).is_err());
        assert!(check_dels(&json!([1])).is_err());
    }
}
