//! Strict parameters, checked before a method runs: how many, and the
//! encoding of each as the Ethereum JSON-RPC spec gives it (quantities `0x`
//! and no leading zeros, data even-length `0x` hex, lower-case block tags).
//! A wrong one is `-32602` naming the argument, as geth's
//! `invalid argument 0: hex string without 0x prefix`.

use serde_json::Value;

/// What one positional parameter must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `0x` and hex digits without leading zeros (`0x0` for zero).
    Quantity,
    /// A quantity or a JSON integer (geth's `HexOrDecimal64`, e.g. `eth_feeHistory`'s count).
    Count,
    /// A block number (quantity) or a tag.
    Block,
    /// A block number, tag or hash, or an EIP-1898 object.
    BlockId,
    /// `0x` and an even number of hex digits.
    Data,
    /// 32 bytes.
    Hash,
    /// 20 bytes.
    Address,
    /// A storage slot: `0x` and 1 to 64 hex digits (leading zeros allowed, as geth).
    Slot,
    Bool,
    Text,
    /// A transaction call object.
    Call,
    /// A log filter object.
    Filter,
    /// Checked by the method itself.
    Any,
}

use Kind::*;

/// Each method's parameters: the required ones, then the optional ones.
fn signature(method: &str) -> Option<(&'static [Kind], &'static [Kind])> {
    Some(match method {
        "eth_chainId"
        | "net_version"
        | "net_listening"
        | "net_peerCount"
        | "web3_clientVersion"
        | "eth_blockNumber"
        | "eth_blobBaseFee"
        | "eth_gasPrice"
        | "eth_maxPriorityFeePerGas"
        | "eth_syncing"
        | "eth_accounts"
        | "eth_mining"
        | "eth_hashrate"
        | "eth_newBlockFilter"
        | "eth_newPendingTransactionFilter"
        | "infra_status"
        | "infra_rollupConfig"
        | "admin_listKeys" => (&[], &[]),
        "web3_sha3" | "eth_sendRawTransaction" => (&[Data], &[]),
        "eth_getBlockByNumber" => (&[Block], &[Bool]),
        "eth_getBlockByHash" => (&[Hash], &[Bool]),
        "eth_getBlockTransactionCountByNumber" | "eth_getUncleCountByBlockNumber" => {
            (&[Block], &[])
        }
        "eth_getBlockTransactionCountByHash"
        | "eth_getUncleCountByBlockHash"
        | "eth_getTransactionByHash"
        | "eth_getTransactionReceipt"
        | "anvil_getBlobsByTransactionHash"
        | "infra_getBlobsByTransactionHash" => (&[Hash], &[]),
        "eth_getTransactionByBlockNumberAndIndex" => (&[Block, Quantity], &[]),
        "eth_getTransactionByBlockHashAndIndex" => (&[Hash, Quantity], &[]),
        "eth_getBalance" | "eth_getTransactionCount" | "eth_getCode" | "infra_getAccountProof" => {
            (&[Address], &[BlockId])
        }
        "eth_getStorageAt" | "infra_getStorageProof" => (&[Address, Slot], &[BlockId]),
        "infra_getWithdrawalProof" => (&[Hash], &[Any]),
        "infra_getStateWitness" => (&[Quantity, Quantity], &[]),
        "infra_getBatchByBlock" => (&[Quantity], &[]),
        "eth_feeHistory" => (&[Count, Block], &[Any]),
        // The third: geth's state overrides; the fourth: block overrides
        // (refused with a clear error by the method).
        "eth_call" | "eth_estimateGas" => (&[Call], &[BlockId, Any, Any]),
        "eth_createAccessList" => (&[Call], &[BlockId]),
        "debug_traceCall" => (&[Call], &[BlockId, Any]),
        "debug_traceTransaction" => (&[Hash], &[Any]),
        "eth_getLogs" | "eth_newFilter" => (&[Filter], &[]),
        "eth_getBlockReceipts" => (&[BlockId], &[]),
        "eth_getFilterChanges" | "eth_getFilterLogs" | "eth_uninstallFilter" => (&[Quantity], &[]),
        "admin_createKey" => (&[Any], &[]),
        "admin_revokeKey" => (&[Text], &[]),
        "eth_subscribe" => (&[Text], &[Any]),
        "eth_unsubscribe" => (&[Text], &[]),
        _ => return None,
    })
}

const TAGS: [&str; 5] = ["latest", "earliest", "pending", "safe", "finalized"];

fn hex_digits(s: &str) -> Result<&str, String> {
    let Some(digits) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) else {
        return Err(if s.is_empty() {
            "empty hex string".into()
        } else {
            "hex string without 0x prefix".into()
        });
    };
    if let Some(c) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(format!("invalid hex character {c:?}"));
    }
    Ok(digits)
}

fn quantity(v: &Value) -> Result<(), String> {
    let Value::String(s) = v else {
        return Err(format!("a quantity is a 0x-prefixed hex string, not {}", type_name(v)));
    };
    let d = hex_digits(s)?;
    if d.is_empty() {
        return Err("hex string \"0x\"".into());
    }
    if d.len() > 1 && d.starts_with('0') {
        return Err("hex number with leading zero digits".into());
    }
    if d.len() > 64 {
        return Err("hex number > 256 bits".into());
    }
    Ok(())
}

fn data(v: &Value, bytes: Option<usize>) -> Result<(), String> {
    let Value::String(s) = v else {
        return Err(format!("data is a 0x-prefixed hex string, not {}", type_name(v)));
    };
    let d = hex_digits(s)?;
    if !d.len().is_multiple_of(2) {
        return Err("hex string of odd length".into());
    }
    if let Some(n) = bytes
        && d.len() != 2 * n
    {
        return Err(format!("hex string has length {}, want {} for {n} bytes", d.len(), 2 * n));
    }
    Ok(())
}

fn block(v: &Value) -> Result<(), String> {
    match v {
        Value::String(s) if TAGS.contains(&s.as_str()) => Ok(()),
        Value::String(s) if !s.starts_with("0x") && !s.is_empty() => Err(format!(
            "unknown block tag {s:?}: a 0x-prefixed block number or one of latest, earliest, pending, safe, finalized"
        )),
        _ => quantity(v),
    }
}

fn block_id(v: &Value) -> Result<(), String> {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match k.as_str() {
                    "blockNumber" => block(x)?,
                    "blockHash" => data(x, Some(32))?,
                    "requireCanonical" if x.is_boolean() => {}
                    "requireCanonical" => return Err("requireCanonical is a boolean".into()),
                    _ => {}
                }
            }
            if o.contains_key("blockNumber") == o.contains_key("blockHash") {
                return Err("a block object has exactly one of blockNumber, blockHash".into());
            }
            Ok(())
        }
        Value::String(s) if s.len() == 66 => data(v, Some(32)),
        _ => block(v),
    }
}

fn field(name: &str, r: Result<(), String>) -> Result<(), String> {
    r.map_err(|e| format!("{name}: {e}"))
}

fn call(v: &Value) -> Result<(), String> {
    let Value::Object(o) = v else {
        return Err(format!("a call is an object, not {}", type_name(v)));
    };
    for (k, x) in o.iter().filter(|(_, x)| !x.is_null()) {
        let r = match k.as_str() {
            "gas"
            | "gasPrice"
            | "maxFeePerGas"
            | "maxPriorityFeePerGas"
            | "maxFeePerBlobGas"
            | "value"
            | "nonce"
            | "chainId"
            | "type" => quantity(x),
            "from" => data(x, Some(20)),
            "to" => data(x, Some(20)),
            "data" | "input" => data(x, None),
            _ => Ok(()),
        };
        field(k, r)?;
    }
    Ok(())
}

fn filter(v: &Value) -> Result<(), String> {
    let Value::Object(o) = v else {
        return Err(format!("a filter is an object, not {}", type_name(v)));
    };
    for (k, x) in o.iter().filter(|(_, x)| !x.is_null()) {
        let r = match k.as_str() {
            "fromBlock" | "toBlock" => block(x),
            "blockHash" => data(x, Some(32)),
            "address" => match x {
                Value::Null => Ok(()),
                Value::Array(a) => a.iter().try_for_each(|a| data(a, Some(20))),
                _ => data(x, Some(20)),
            },
            "topics" => match x {
                Value::Null => Ok(()),
                Value::Array(ts) => ts.iter().try_for_each(|t| match t {
                    Value::Null => Ok(()),
                    Value::Array(alts) => alts
                        .iter()
                        .try_for_each(|a| if a.is_null() { Ok(()) } else { data(a, Some(32)) }),
                    _ => data(t, Some(32)),
                }),
                _ => Err("topics is an array".into()),
            },
            _ => Ok(()),
        };
        field(k, r)?;
    }
    let set = |k: &str| o.get(k).is_some_and(|v| !v.is_null());
    if set("blockHash") && (set("fromBlock") || set("toBlock")) {
        return Err("a filter with blockHash takes no fromBlock or toBlock".into());
    }
    // Two block numbers the wrong way round (tags resolve later).
    let number = |k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .and_then(|s| s.strip_prefix("0x"))
            .and_then(|h| u64::from_str_radix(h, 16).ok())
    };
    if let (Some(f), Some(t)) = (number("fromBlock"), number("toBlock"))
        && f > t
    {
        return Err(format!("invalid block range params: fromBlock {f} is after toBlock {t}"));
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_one(kind: Kind, v: &Value) -> Result<(), String> {
    match kind {
        Quantity => quantity(v),
        // geth's HexOrDecimal64: a JSON integer, a decimal string or any hex.
        Count => match v {
            Value::Number(n) if n.is_u64() => Ok(()),
            Value::String(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) => Ok(()),
            Value::String(s) => {
                let d = hex_digits(s)?;
                if d.is_empty() || d.trim_start_matches('0').len() > 16 {
                    Err("not a 64-bit count".into())
                } else {
                    Ok(())
                }
            }
            _ => Err(format!("a count is a number or a string, not {}", type_name(v))),
        },
        Block => block(v),
        BlockId => block_id(v),
        Data => data(v, None),
        Hash => data(v, Some(32)),
        Address => data(v, Some(20)),
        Slot => match v {
            Value::String(s) => {
                let d = hex_digits(s)?;
                if d.is_empty() || d.len() > 64 {
                    Err("a storage slot has 1 to 64 hex digits".into())
                } else {
                    Ok(())
                }
            }
            _ => Err(format!("a storage slot is a hex string, not {}", type_name(v))),
        },
        Bool if v.is_boolean() => Ok(()),
        Bool => Err(format!("want a boolean, not {}", type_name(v))),
        Text if v.is_string() => Ok(()),
        Text => Err(format!("want a string, not {}", type_name(v))),
        Call => call(v),
        Filter => filter(v),
        Any => Ok(()),
    }
}

/// Checks `params` (the request's raw `params`, absent: none) against
/// `method`'s signature. `Err`: the message of the `-32602`.
pub(crate) fn check(method: &str, params: Option<&str>) -> Result<(), String> {
    let Some((required, optional)) = signature(method) else { return Ok(()) };
    let values: Vec<Value> = match params {
        None => Vec::new(),
        Some(raw) => match serde_json::from_str::<Value>(raw) {
            Ok(Value::Array(a)) => a,
            Ok(Value::Object(_)) => {
                return Err(format!("{method} takes its parameters as an array, not by name"));
            }
            Ok(_) | Err(_) => return Err("params must be an array".into()),
        },
    };
    // Trailing nulls stand for optional parameters left out (as geth).
    let mut n = values.len();
    while n > required.len() && values[n - 1].is_null() {
        n -= 1;
    }
    if n < required.len() {
        return Err(format!("missing value for required argument {n}"));
    }
    if n > required.len() + optional.len() {
        let overrides = method == "eth_createAccessList";
        return Err(format!(
            "too many arguments, want at most {}{}",
            required.len() + optional.len(),
            if overrides { " (state and block overrides are not supported)" } else { "" }
        ));
    }
    for (i, (kind, v)) in required.iter().chain(optional).zip(&values[..n]).enumerate() {
        // A null optional parameter before others stands for its default (a
        // null block is the latest, as geth reads it).
        if i >= required.len() && v.is_null() {
            continue;
        }
        check_one(*kind, v).map_err(|e| format!("invalid argument {i}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn quantities_data_tags_and_counts() {
        let ok = |m: &str, p: &str| check(m, Some(p)).unwrap_or_else(|e| panic!("{m} {p}: {e}"));
        let bad = |m: &str, p: &str, says: &str| {
            let e = check(m, Some(p)).expect_err(p);
            assert!(e.contains(says), "{m} {p}: {e}");
        };
        ok("eth_getBalance", r#"["0x0000000000000000000000000000000000000001"]"#);
        ok("eth_getBalance", r#"["0x0000000000000000000000000000000000000001", "latest"]"#);
        ok("eth_getBalance", r#"["0x0000000000000000000000000000000000000001", "0x0"]"#);
        ok("eth_getBalance", r#"["0x0000000000000000000000000000000000000001", null]"#);
        ok(
            "eth_getBalance",
            r#"["0x0000000000000000000000000000000000000001", {"blockHash": "0x0000000000000000000000000000000000000000000000000000000000000001", "requireCanonical": true}]"#,
        );
        bad(
            "eth_getBalance",
            r#"["0x0000000000000000000000000000000000000001", "latest", 1]"#,
            "too many arguments",
        );
        bad(
            "eth_getBalance",
            r#"["0x0000000000000000000000000000000000000001", "LATEST"]"#,
            "unknown block tag",
        );
        bad(
            "eth_getBalance",
            r#"["0x0000000000000000000000000000000000000001", "0x01"]"#,
            "leading zero",
        );
        bad(
            "eth_getBalance",
            r#"["0x0000000000000000000000000000000000000001", "10"]"#,
            "unknown block tag",
        );
        bad(
            "eth_getBalance",
            r#"["0x0000000000000000000000000000000000000001", 10]"#,
            "not a number",
        );
        bad(
            "eth_getBalance",
            r#"["0x0000000000000000000000000000000000000001", ""]"#,
            "empty hex string",
        );
        bad("eth_getBalance", r#"["0x01"]"#, "want 40 for 20 bytes");
        bad("eth_getBalance", r#"[]"#, "missing value for required argument 0");
        bad("eth_blockNumber", r#"[1]"#, "too many arguments");
        bad("eth_sendRawTransaction", r#"["0xabc"]"#, "odd length");
        bad("eth_sendRawTransaction", r#"["abcd"]"#, "without 0x prefix");
        ok("eth_feeHistory", r#"[4, "latest", [25, 75]]"#);
        ok("eth_feeHistory", r#"["0x4", "latest"]"#);
        ok("eth_feeHistory", r#"["4", "latest"]"#);
        ok("eth_feeHistory", r#"["0x04", "latest"]"#);
        ok(
            "eth_call",
            r#"[{"to": "0X0000000000000000000000000000000000000001", "gas": null, "data": "0xAB"}]"#,
        );
        ok("eth_getLogs", r#"[{"fromBlock": null, "toBlock": null}]"#);
        bad("eth_newFilter", r#"[{"fromBlock": "0x9", "toBlock": "0x2"}]"#, "invalid block range");
        // State overrides (the third) are taken; block overrides (the fourth)
        // are refused by the method itself; a fifth is too many.
        ok("eth_call", r#"[{}, "latest", {}]"#);
        ok("eth_estimateGas", r#"[{}, "latest", {}, null]"#);
        ok("eth_call", r#"[{}, null, {}]"#);
        bad("eth_call", r#"[{}, "latest", {}, {}, {}]"#, "too many arguments, want at most 4");
        bad("eth_createAccessList", r#"[{}, "latest", {}]"#, "overrides are not supported");
        ok(
            "eth_call",
            r#"[{"to": "0x0000000000000000000000000000000000000001", "data": "0x"}, "latest"]"#,
        );
        bad(
            "eth_call",
            r#"[{"to": "0x0000000000000000000000000000000000000001", "value": 5}]"#,
            "value",
        );
        bad("eth_call", r#"[{"gas": "0x05"}]"#, "gas: hex number with leading zero digits");
        ok(
            "eth_getLogs",
            r#"[{"fromBlock": "0x1", "toBlock": "latest", "topics": [null, ["0x0000000000000000000000000000000000000000000000000000000000000001"]]}]"#,
        );
        bad("eth_getLogs", r#"[{"fromBlock": "Latest"}]"#, "fromBlock: unknown block tag");
        ok(
            "eth_getStorageAt",
            r#"["0x0000000000000000000000000000000000000001", "0x00", "latest"]"#,
        );
        bad("eth_getBlockByNumber", r#"["latest", "true"]"#, "want a boolean");
        bad(
            "eth_getBalance",
            r#"{"address": "0x0000000000000000000000000000000000000001"}"#,
            "not by name",
        );
    }
}
