//! JSON-RPC 2.0 envelopes, exactly as the spec gives them, for HTTP and
//! WebSocket alike: every request with an id gets a response with that id,
//! echoed as sent (a string, any JSON number, null); an id of another type is
//! `-32600` with id null; `-32700` only for bytes that are not JSON (invalid
//! UTF-8 included); `-32600` for JSON that is not a request; notifications
//! (no id) get no response. The methods themselves are jsonrpsee's
//! registered callbacks, called here with the gateway's admission and the
//! strict parameter check of [`crate::params`] in front.

use crate::gateway::{Caller, Gateway};
use jsonrpsee::{
    Methods,
    core::server::{ConnectionId, MethodCallback},
    types::{ErrorObjectOwned, Id, Params},
};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::{sync::Arc, time::Instant};

pub(crate) const PARSE_ERROR: i32 = -32700;
pub(crate) const INVALID_REQUEST: i32 = -32600;
pub(crate) const METHOD_NOT_FOUND: i32 = -32601;
pub(crate) const INVALID_PARAMS: i32 = -32602;

pub(crate) fn error(code: i32, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, msg.into(), None::<()>)
}

/// One element of a request: a call to make, or an invalid one to answer.
#[derive(Debug)]
pub(crate) enum Item {
    Call {
        /// `None`: a notification (no response).
        id: Option<Box<RawValue>>,
        method: String,
        params: Option<Box<RawValue>>,
    },
    Invalid {
        /// The id to answer with (null when the id itself was invalid);
        /// `None`: a notification, not answered.
        id: Option<Box<RawValue>>,
        error: ErrorObjectOwned,
    },
}

/// A whole message.
#[derive(Debug)]
pub(crate) enum Message {
    Single(Item),
    Batch(Vec<Item>),
    /// Answered with one error and id null.
    Error(ErrorObjectOwned),
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".into()).expect("null is JSON")
}

fn first_char(raw: &RawValue) -> char {
    raw.get().trim_start().chars().next().unwrap_or(' ')
}

/// A valid id: a string, a number (any, as written) or null.
fn valid_id(raw: &RawValue) -> bool {
    let s = raw.get().trim();
    matches!(first_char(raw), '"' | '-' | '0'..='9') || s == "null"
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    jsonrpc: Option<Box<RawValue>>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Box<RawValue>>,
    #[serde(default)]
    method: Option<Box<RawValue>>,
    #[serde(default)]
    params: Option<Box<RawValue>>,
}

/// An `id` that is present, even as `null` (serde maps a null to `None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

fn item(raw: &RawValue) -> Item {
    let invalid = |id: Option<Box<RawValue>>, msg: &str| Item::Invalid {
        id: Some(id.unwrap_or_else(null)),
        error: error(INVALID_REQUEST, format!("invalid request: {msg}")),
    };
    if first_char(raw) != '{' {
        return invalid(None, "a request is a JSON object");
    }
    let Ok(env) = serde_json::from_str::<Envelope>(raw.get()) else {
        return invalid(None, "a request is a JSON object");
    };
    let id = match env.id {
        Some(id) if !valid_id(&id) => {
            return invalid(None, "id must be a string, a number or null");
        }
        other => other,
    };
    let is_notification = id.is_none();
    let fail = |msg: &str| {
        if is_notification {
            Item::Invalid { id: None, error: error(INVALID_REQUEST, msg) }
        } else {
            invalid(id.clone(), msg)
        }
    };
    if env.jsonrpc.as_deref().map(RawValue::get) != Some("\"2.0\"") {
        return fail("jsonrpc must be \"2.0\"");
    }
    let Some(method) = env.method.and_then(|m| serde_json::from_str::<String>(m.get()).ok()) else {
        return fail("method must be a string");
    };
    if let Some(p) = &env.params
        && !matches!(first_char(p), '[' | '{')
    {
        return fail("params must be an array or an object");
    }
    Item::Call { id, method, params: env.params }
}

/// Parses a message; the batch limit applies to arrays.
pub(crate) fn parse(body: &[u8], max_batch: usize) -> Message {
    let raw = match serde_json::from_slice::<Box<RawValue>>(body) {
        Ok(r) => r,
        Err(e) => return Message::Error(error(PARSE_ERROR, format!("parse error: {e}"))),
    };
    match first_char(&raw) {
        '{' => Message::Single(item(&raw)),
        '[' => {
            let Ok(items) = serde_json::from_str::<Vec<Box<RawValue>>>(raw.get()) else {
                return Message::Error(error(PARSE_ERROR, "parse error"));
            };
            if items.is_empty() {
                return Message::Error(error(INVALID_REQUEST, "invalid request: empty batch"));
            }
            if items.len() > max_batch {
                return Message::Error(error(
                    INVALID_REQUEST,
                    format!(
                        "batch too large: {} calls, at most {max_batch} (rpc.max_batch)",
                        items.len()
                    ),
                ));
            }
            Message::Batch(items.iter().map(|r| item(r)).collect())
        }
        _ => Message::Error(error(
            INVALID_REQUEST,
            "invalid request: a request is a JSON object, a batch a JSON array",
        )),
    }
}

/// A response line: `{"jsonrpc":"2.0","id":...,"result"|"error":...}`.
pub(crate) fn response(id: &RawValue, outcome: Result<Box<RawValue>, ErrorObjectOwned>) -> String {
    match outcome {
        Ok(result) => format!(r#"{{"jsonrpc":"2.0","id":{},"result":{}}}"#, id.get(), result.get()),
        Err(e) => format!(
            r#"{{"jsonrpc":"2.0","id":{},"error":{}}}"#,
            id.get(),
            serde_json::to_string(&e)
                .unwrap_or_else(|_| r#"{"code":-32603,"message":"internal error"}"#.into())
        ),
    }
}

pub(crate) fn error_response(e: ErrorObjectOwned) -> String {
    response(&null(), Err(e))
}

#[derive(Deserialize)]
struct Outcome {
    #[serde(default)]
    result: Option<Box<RawValue>>,
    #[serde(default)]
    error: Option<ErrorObjectOwned>,
}

/// Calls the registered methods for a connection.
pub(crate) struct Dispatcher {
    pub methods: Methods,
    pub gateway: Arc<Gateway>,
    pub max_response_bytes: usize,
    pub max_batch: usize,
}

impl Dispatcher {
    /// Runs `method` with `params` (admission and the parameter check done).
    async fn run(
        &self,
        method: &str,
        params: Option<&RawValue>,
    ) -> Result<Box<RawValue>, ErrorObjectOwned> {
        let params_str = params.map(|p| p.get().to_string());
        let rp = match self.methods.method(method) {
            Some(MethodCallback::Sync(cb)) => (cb)(
                Id::Null,
                Params::new(params_str.as_deref()),
                self.max_response_bytes,
                http::Extensions::new(),
            ),
            Some(MethodCallback::Async(cb)) => {
                (cb)(
                    Id::Null,
                    Params::new(params_str.as_deref()).into_owned(),
                    ConnectionId(0),
                    self.max_response_bytes,
                    http::Extensions::new(),
                )
                .await
            }
            _ => {
                return Err(error(
                    METHOD_NOT_FOUND,
                    format!("the method {method} does not exist/is not available"),
                ));
            }
        };
        let (json, _, _) = rp.into_parts();
        let out: Outcome = serde_json::from_str(json.get())
            .map_err(|e| error(-32603, format!("internal error: {e}")))?;
        match (out.result, out.error) {
            (_, Some(e)) => Err(e),
            (Some(r), None) => Ok(r),
            (None, None) => Ok(null()),
        }
    }

    /// Answers a parsed message: the response text, if any (notifications
    /// only: none). `ws`: whether subscriptions can be served (else they are
    /// refused as geth does over HTTP); `subscribe` handles them there.
    pub(crate) async fn answer<F, Fut>(
        &self,
        caller: &Caller,
        msg: Message,
        subscribe: F,
    ) -> Option<String>
    where
        F: Fn(String, Option<Box<RawValue>>) -> Fut,
        Fut: std::future::Future<Output = Result<Box<RawValue>, ErrorObjectOwned>>,
    {
        match msg {
            Message::Error(e) => Some(error_response(e)),
            Message::Single(item) => self.answer_items(caller, vec![item], &subscribe).await.pop(),
            Message::Batch(items) => {
                let out = self.answer_items(caller, items, &subscribe).await;
                // A batch of notifications only gets no response at all.
                (!out.is_empty()).then(|| format!("[{}]", out.join(",")))
            }
        }
    }

    async fn answer_items<F, Fut>(
        &self,
        caller: &Caller,
        items: Vec<Item>,
        subscribe: &F,
    ) -> Vec<String>
    where
        F: Fn(String, Option<Box<RawValue>>) -> Fut,
        Fut: std::future::Future<Output = Result<Box<RawValue>, ErrorObjectOwned>>,
    {
        let methods: Vec<&str> = items
            .iter()
            .filter_map(|i| match i {
                Item::Call { method, .. } => Some(method.as_str()),
                Item::Invalid { .. } => None,
            })
            .collect();
        let mut verdicts = self.gateway.admit_calls(caller, &methods).into_iter();
        let calls = items.into_iter().map(|item| {
            let verdict = match &item {
                Item::Call { .. } => verdicts.next(),
                Item::Invalid { .. } => None,
            };
            async move {
                match item {
                    Item::Invalid { id, error } => id.map(|id| response(&id, Err(error))),
                    Item::Call { id, method, params } => {
                        let started = Instant::now();
                        let outcome = match verdict {
                            Some(Err(e)) => {
                                self.gateway.observe(&method, started.elapsed(), "refused");
                                Err(e)
                            }
                            _ => {
                                let checked = crate::params::check(
                                    &method,
                                    params.as_deref().map(RawValue::get),
                                )
                                .map_err(|e| error(INVALID_PARAMS, e));
                                let r = match checked {
                                    Err(e) => Err(e),
                                    Ok(())
                                        if method == "eth_subscribe"
                                            || method == "eth_unsubscribe" =>
                                    {
                                        subscribe(method.clone(), params).await
                                    }
                                    Ok(()) => self.run(&method, params.as_deref()).await,
                                };
                                self.gateway.observe(
                                    &method,
                                    started.elapsed(),
                                    if r.is_ok() { "ok" } else { "error" },
                                );
                                r
                            }
                        };
                        id.map(|id| response(&id, outcome))
                    }
                }
            }
        });
        futures::future::join_all(calls).await.into_iter().flatten().collect()
    }
}

/// Over HTTP there are no subscriptions: geth's answer.
pub(crate) async fn no_subscriptions(
    _method: String,
    _params: Option<Box<RawValue>>,
) -> Result<Box<RawValue>, ErrorObjectOwned> {
    Err(error(METHOD_NOT_FOUND, "notifications not supported"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(body: &str) -> Item {
        match parse(body.as_bytes(), 100) {
            Message::Single(i) => i,
            other => panic!("{body}: {other:?}"),
        }
    }

    fn whole_error(body: &[u8]) -> i32 {
        match parse(body, 100) {
            Message::Error(e) => e.code(),
            other => panic!("{body:?}: {other:?}"),
        }
    }

    #[test]
    fn ids_are_echoed_as_sent_or_refused() {
        for id in ["-5", "1.5", "18446744073709551616", "\"abc\"", "null", "0", "1e3"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId"}}"#);
            match single(&body) {
                Item::Call { id: Some(got), .. } => assert_eq!(got.get(), id),
                other => panic!("{id}: {other:?}"),
            }
        }
        for id in ["{}", "[1]", "true"] {
            let body = format!(r#"{{"jsonrpc":"2.0","id":{id},"method":"eth_chainId"}}"#);
            match single(&body) {
                Item::Invalid { id: Some(got), error } => {
                    assert_eq!(got.get(), "null");
                    assert_eq!(error.code(), INVALID_REQUEST);
                }
                other => panic!("{id}: {other:?}"),
            }
        }
        assert!(matches!(
            single(r#"{"jsonrpc":"2.0","method":"eth_chainId"}"#),
            Item::Call { id: None, .. }
        ));
    }

    #[test]
    fn parse_errors_and_invalid_requests() {
        assert_eq!(whole_error(b"{"), PARSE_ERROR);
        assert_eq!(whole_error(b"[1,"), PARSE_ERROR);
        assert_eq!(whole_error(b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}"), PARSE_ERROR);
        for body in ["\"x\"", "null", "5", "true", "[]"] {
            assert_eq!(whole_error(body.as_bytes()), INVALID_REQUEST, "{body}");
        }
        for body in [
            r#"{"jsonrpc":"1.0","id":1,"method":"eth_chainId"}"#,
            r#"{"id":1,"method":"eth_chainId"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":5}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":"x"}"#,
        ] {
            match single(body) {
                Item::Invalid { id: Some(id), error } => {
                    assert_eq!(id.get(), "1");
                    assert_eq!(error.code(), INVALID_REQUEST, "{body}");
                }
                other => panic!("{body}: {other:?}"),
            }
        }
        match parse(br#"[1, {"jsonrpc":"2.0","id":2,"method":"eth_chainId"}]"#, 100) {
            Message::Batch(items) => {
                assert!(matches!(&items[0], Item::Invalid { id: Some(_), .. }));
                assert!(matches!(&items[1], Item::Call { .. }));
            }
            other => panic!("{other:?}"),
        }
        let two =
            br#"[{"jsonrpc":"2.0","id":1,"method":"a"},{"jsonrpc":"2.0","id":2,"method":"b"}]"#;
        match parse(two, 1) {
            Message::Error(e) => assert_eq!(e.code(), INVALID_REQUEST),
            other => panic!("{other:?}"),
        }
    }
}
