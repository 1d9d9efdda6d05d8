//! [`AxonService`]: the Axon as a cell service: configuration, the telepath API (`AxonApi`
//! with the reference's method names, arguments, results, errors and permissions, the HTTP
//! transfers of [`crate::wget`] included), the upload share, the HTTP routes and the health
//! component.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use rmpv::Value;
use synapse_cell::{
    ArgDefault as D, Args, Cell, ConfDef, ConfType, ErrKind, HealthComponent, MethDef, Reply,
    Service, ServiceDef, Session, ShareObject, StoreOp, map, truthy,
};
use tokio::sync::Mutex;

use crate::axon::{Axon, AxonOptions, HashRow};
use crate::error::Error;
use crate::hash::Sha256;
use crate::text;
use crate::upload::Upload;
use crate::wget;

type CellResult<T> = synapse_cell::Result<T>;

/// The telepath methods the Axon adds to the cell API (`sharinfo["meths"]`).
pub const AXON_METHODS: &[MethDef] = &[
    MethDef::genr("csvrows"),
    MethDef::call("del_"),
    MethDef::call("dels"),
    MethDef::genr("get"),
    MethDef::call("has"),
    MethDef::genr("hashes"),
    MethDef::call("hashset"),
    MethDef::genr("history"),
    MethDef::genr("iterMpkFile"),
    MethDef::genr("jsonlines"),
    MethDef::call("metrics"),
    MethDef::call("postfiles"),
    MethDef::call("put"),
    MethDef::call("puts"),
    MethDef::genr("readlines"),
    MethDef::call("size"),
    MethDef::call("unpack"),
    MethDef::call("upload"),
    MethDef::call("wants"),
    MethDef::call("wget"),
    MethDef::call("wput"),
];

/// The Axon cell service (`synapse.axon.Axon`).
pub struct AxonService {
    axon: Axon,
    cell: Cell,
}

impl std::fmt::Debug for AxonService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AxonService")
            .field("axon", &self.axon)
            .finish()
    }
}

impl AxonService {
    /// The blob store.
    pub fn axon(&self) -> &Axon {
        &self.axon
    }

    /// The cell.
    pub fn cell(&self) -> &Cell {
        &self.cell
    }
}

fn perm(name: &str) -> [String; 2] {
    ["axon".to_string(), name.to_string()]
}

/// A sha256 argument: the raw bytes given (any length: a wrong length is simply absent, as in
/// the reference's key lookups).
struct Key {
    raw: Vec<u8>,
    sha256: Option<Sha256>,
}

impl Key {
    fn hex(&self) -> String {
        hex::encode(&self.raw)
    }

    fn req(&self) -> Result<Sha256, Error> {
        self.sha256
            .ok_or_else(|| Error::NoSuchFile { sha256: self.hex() })
    }
}

fn key_arg(valu: &Value) -> CellResult<Key> {
    match valu {
        Value::Binary(byts) => Ok(Key {
            raw: byts.clone(),
            sha256: Sha256::from_slice(byts),
        }),
        Value::String(_) => Err(synapse_cell::Error::new(
            ErrKind::TypeError,
            "Won't implicitly convert Unicode to bytes; use .encode()",
        )),
        other => Err(synapse_cell::Error::new(
            ErrKind::TypeError,
            format!("A bytes-like object is required, not {}", py_type(other)),
        )),
    }
}

/// A list of sha256 arguments.
fn keys_arg(valu: &Value) -> CellResult<Vec<Key>> {
    match valu {
        Value::Array(items) => items.iter().map(key_arg).collect(),
        other => Err(synapse_cell::Error::new(
            ErrKind::TypeError,
            format!("'{}' object is not iterable", py_type(other)),
        )),
    }
}

/// A sha256 given as hex text (`readlines`, `jsonlines`, `iterMpkFile`), as the reference's
/// `s_common.uhex`.
fn hex_arg(valu: &Value) -> Result<(String, Option<Sha256>), Error> {
    let byts: &[u8] = match valu {
        Value::String(s) => {
            let text = s.as_str().unwrap_or_default();
            if !text.is_ascii() {
                return Err(Error::Python {
                    name: "ValueError",
                    mesg: "string argument should contain only ASCII characters".into(),
                });
            }
            text.as_bytes()
        }
        Value::Binary(b) => b,
        other => {
            return Err(Error::Python {
                name: "TypeError",
                mesg: format!(
                    "argument should be bytes, buffer or ASCII string, not '{}'",
                    py_type(other)
                ),
            });
        }
    };
    if byts.len() % 2 == 1 {
        return Err(Error::Python {
            name: "Error",
            mesg: "Odd-length string".into(),
        });
    }
    let raw = hex::decode(byts).map_err(|_| Error::Python {
        name: "Error",
        mesg: "Non-hexadecimal digit found".into(),
    })?;
    Ok((hex::encode(&raw), Sha256::from_slice(&raw)))
}

/// Python's type name of a value (for messages).
pub(crate) fn py_type(valu: &Value) -> &'static str {
    match valu {
        Value::Nil => "NoneType",
        Value::Boolean(_) => "bool",
        Value::Integer(_) => "int",
        Value::F32(_) | Value::F64(_) => "float",
        Value::String(_) => "str",
        Value::Binary(_) => "bytes",
        Value::Array(_) => "tuple",
        Value::Map(_) => "dict",
        Value::Ext(_, _) => "int",
    }
}

fn int_arg(valu: &Value, name: &str) -> CellResult<i64> {
    match valu {
        Value::Integer(i) => i
            .as_i64()
            .ok_or_else(|| synapse_cell::Error::bad_arg(format!("{name} is out of range"))),
        Value::Boolean(b) => Ok(i64::from(*b)),
        other => Err(synapse_cell::Error::new(
            ErrKind::TypeError,
            format!(
                "'<' not supported between instances of '{}' and 'int'",
                py_type(other)
            ),
        )),
    }
}

fn sha_value(sha256: &Sha256) -> Value {
    Value::Binary(sha256.0.to_vec())
}

fn saved_value(size: u64, sha256: &Sha256) -> Value {
    Value::Array(vec![Value::from(size), sha_value(sha256)])
}

fn row_value((indx, (sha256, size)): HashRow) -> Value {
    Value::Array(vec![
        Value::from(indx),
        Value::Array(vec![sha_value(&sha256), Value::from(size)]),
    ])
}

/// A generator reply whose setup may fail: the error is its first (and last) item, as a
/// Python generator raises on its first iteration.
fn genr<F>(setup: F) -> Reply
where
    F: Future<Output = CellResult<BoxStream<'static, CellResult<Value>>>> + Send + 'static,
{
    Reply::Genr(
        stream::once(setup)
            .map(|res| match res {
                Ok(items) => items,
                Err(err) => stream::once(async move { Err(err) }).boxed(),
            })
            .flatten()
            .boxed(),
    )
}

fn value_stream<T, F>(
    items: BoxStream<'static, crate::error::Result<T>>,
    func: F,
) -> BoxStream<'static, CellResult<Value>>
where
    T: Send + 'static,
    F: Fn(T) -> Value + Send + 'static,
{
    items
        .map(move |item| item.map(&func).map_err(synapse_cell::Error::from))
        .boxed()
}

impl Service for AxonService {
    fn def() -> ServiceDef {
        let mut def = ServiceDef::new("axon");
        def.confdefs = vec![
            ConfDef::new(
                "max:bytes",
                &[ConfType::Integer],
                "The maximum number of bytes that can be stored in the Axon.",
            )
            .with_schema(|s| s.minimum(1.0))
            .hidecmdl(),
            ConfDef::new(
                "max:count",
                &[ConfType::Integer],
                "The maximum number of files that can be stored in the Axon.",
            )
            .with_schema(|s| s.minimum(1.0))
            .hidecmdl(),
            ConfDef::new(
                "http:proxy",
                &[ConfType::String],
                "An aiohttp-socks compatible proxy URL to use in the wget API.",
            ),
            ConfDef::new(
                "tls:ca:dir",
                &[ConfType::String],
                "An optional directory of CAs which are added to the TLS CA chain for wget and wput APIs.",
            ),
        ];
        def.features = vec![("byterange".to_string(), 1), ("unpack".to_string(), 1)];
        def.api_classes = vec!["synapse.axon.AxonApi".to_string()];
        def.shares = vec!["axon".to_string()];
        def
    }

    async fn init(cell: &Cell) -> CellResult<Self> {
        let conf = cell.conf();
        let limit = |key: &str| conf.get_i64(key).and_then(|n| u64::try_from(n).ok());
        let opts = AxonOptions {
            max_bytes: limit("max:bytes"),
            max_count: limit("max:count"),
        };
        let axon = Axon::open(cell.dirn(), opts).await?;
        // The reference records its metrics storage version in the cell versions.
        cell.store()
            .apply(vec![StoreOp::put(
                "cell:vers",
                b"axon:metrics".to_vec(),
                synapse_cell::encode(&Value::from(1)),
            )])
            .await?;
        let sweeper = axon.clone();
        let sweep = cell.base().spawn(async move {
            if let Err(err) = sweeper.sweep_orphans().await {
                tracing::warn!(cause = %err, "cannot sweep orphaned blob files");
            }
        });
        if sweep.is_err() {
            tracing::debug!("the cell shut down before the orphan sweep started");
        }
        Ok(AxonService {
            axon,
            cell: cell.clone(),
        })
    }

    fn methods(&self) -> Vec<MethDef> {
        AXON_METHODS.to_vec()
    }

    fn call<'a>(
        self: &'a Arc<Self>,
        sess: &'a Session,
        meth: &'a str,
        args: Args,
    ) -> Option<BoxFuture<'a, CellResult<Reply>>> {
        let fut: BoxFuture<'a, CellResult<Reply>> = match meth {
            "get" => Box::pin(self.api_get(sess, args)),
            "has" => Box::pin(self.api_has(sess, args)),
            "size" => Box::pin(self.api_size(sess, args)),
            "wants" => Box::pin(self.api_wants(sess, args)),
            "hashset" => Box::pin(self.api_hashset(sess, args)),
            "hashes" => Box::pin(self.api_hashes(sess, args)),
            "history" => Box::pin(self.api_history(sess, args)),
            "metrics" => Box::pin(self.api_metrics(sess, args)),
            "put" => Box::pin(self.api_put(sess, args)),
            "puts" => Box::pin(self.api_puts(sess, args)),
            "upload" => Box::pin(self.api_upload(sess, args)),
            "del_" => Box::pin(self.api_del(sess, args)),
            "dels" => Box::pin(self.api_dels(sess, args)),
            "readlines" => Box::pin(self.api_readlines(sess, args, false)),
            "jsonlines" => Box::pin(self.api_readlines(sess, args, true)),
            "csvrows" => Box::pin(self.api_csvrows(sess, args)),
            "iterMpkFile" => Box::pin(self.api_mpk(sess, args)),
            "unpack" => Box::pin(self.api_unpack(sess, args)),
            "wget" => Box::pin(self.api_wget(sess, args)),
            "wput" => Box::pin(self.api_wput(sess, args)),
            "postfiles" => Box::pin(self.api_postfiles(sess, args)),
            _ => return None,
        };
        Some(fut)
    }

    fn routes(self: &Arc<Self>) -> Vec<synapse_cell::Route> {
        crate::http::routes(self.axon.clone())
    }

    async fn health(&self) -> Vec<HealthComponent> {
        vec![HealthComponent {
            name: "axon".to_string(),
            status: "nominal".to_string(),
            mesg: String::new(),
            data: metrics_value(&self.axon),
        }]
    }

    async fn fini(&self) {
        self.axon.fini().await;
    }
}

/// `{"size:bytes": n, "file:count": n}`.
pub(crate) fn metrics_value(axon: &Axon) -> Value {
    let metrics = axon.metrics();
    map([
        ("size:bytes", Value::from(metrics.size_bytes)),
        ("file:count", Value::from(metrics.file_count)),
    ])
}

impl AxonService {
    async fn api_get(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind(
            "get",
            &[("sha256", D::Required), ("offs", D::Nil), ("size", D::Nil)],
        )?;
        let allowed = sess.req_allowed(&perm("get"));
        let axon = self.axon.clone();
        let (sha, offs, size) = (
            bound.value(0).clone(),
            bound.value(1).clone(),
            bound.value(2).clone(),
        );
        Ok(genr(async move {
            allowed?;
            let key = key_arg(&sha)?;
            let sha256 = key.req()?;
            axon.req_size(&sha256).await?;
            let range = if offs.is_nil() && size.is_nil() {
                None
            } else {
                let offs = int_arg(&offs, "offs")?;
                let size = int_arg(&size, "size")?;
                if offs < 0 {
                    return Err(Error::bad_arg("Offs must be >= 0")
                        .with("offs", offs)
                        .into());
                }
                if size < 1 {
                    return Err(Error::bad_arg("Size must be >= 1")
                        .with("size", size)
                        .into());
                }
                Some((offs.unsigned_abs(), size.unsigned_abs()))
            };
            tracing::debug!(sha256 = %sha256, "Getting blob [{sha256}].");
            let chunks = axon.get(&sha256, range).await?;
            Ok(value_stream(chunks.boxed(), Value::Binary))
        }))
    }

    async fn api_has(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind("has", &[("sha256", D::Required)])?;
        sess.req_allowed(&perm("has"))?;
        let key = key_arg(bound.value(0))?;
        let has = match key.sha256 {
            Some(sha256) => self.axon.has(&sha256).await?,
            None => false,
        };
        Ok(Reply::Value(Value::Boolean(has)))
    }

    async fn api_size(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind("size", &[("sha256", D::Required)])?;
        sess.req_allowed(&perm("has"))?;
        let key = key_arg(bound.value(0))?;
        let size = match key.sha256 {
            Some(sha256) => self.axon.size(&sha256).await?,
            None => None,
        };
        Ok(Reply::Value(size.map_or(Value::Nil, Value::from)))
    }

    async fn api_wants(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind("wants", &[("sha256s", D::Required)])?;
        sess.req_allowed(&perm("has"))?;
        let keys = keys_arg(bound.value(0))?;
        let raws: Vec<Vec<u8>> = keys
            .iter()
            .map(|k| {
                if k.sha256.is_some() {
                    k.raw.clone()
                } else {
                    Vec::new()
                }
            })
            .collect();
        let has = self.axon.has_many(raws).await?;
        let wants = keys
            .into_iter()
            .zip(has)
            .filter(|(_, has)| !has)
            .map(|(key, _)| Value::Binary(key.raw))
            .collect();
        Ok(Reply::Value(Value::Array(wants)))
    }

    async fn api_hashset(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind("hashset", &[("sha256", D::Required)])?;
        sess.req_allowed(&perm("has"))?;
        let sha256 = key_arg(bound.value(0))?.req()?;
        let set = self.axon.hashset(&sha256).await?;
        Ok(Reply::Value(map([
            ("md5", Value::from(set.md5)),
            ("sha1", Value::from(set.sha1)),
            ("sha256", Value::from(set.sha256)),
            ("sha512", Value::from(set.sha512)),
        ])))
    }

    async fn api_hashes(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind(
            "hashes",
            &[
                ("offs", D::Required),
                ("wait", D::Bool(false)),
                ("timeout", D::Nil),
            ],
        )?;
        let allowed = sess.req_allowed(&perm("has"));
        let axon = self.axon.clone();
        let offs = bound.value(0).clone();
        let wait = truthy(bound.value(1));
        let timeout = bound.value(2).clone();
        Ok(genr(async move {
            allowed?;
            let offs = int_arg(&offs, "offs")?;
            let timeout = match &timeout {
                Value::Nil => None,
                Value::Integer(i) => Some(Duration::from_secs(i.as_u64().unwrap_or(0))),
                Value::F64(f) => Some(Duration::from_secs_f64(f.max(0.0))),
                Value::F32(f) => Some(Duration::from_secs_f32(f.max(0.0))),
                other => {
                    return Err(synapse_cell::Error::new(
                        ErrKind::TypeError,
                        format!("'{}' object cannot be used as a timeout", py_type(other)),
                    ));
                }
            };
            let rows = axon.hashes(offs.max(0).unsigned_abs(), wait, timeout);
            Ok(value_stream(rows, row_value))
        }))
    }

    async fn api_history(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind("history", &[("tick", D::Required), ("tock", D::Nil)])?;
        let allowed = sess.req_allowed(&perm("has"));
        let axon = self.axon.clone();
        let (tick, tock) = (bound.value(0).clone(), bound.value(1).clone());
        Ok(genr(async move {
            allowed?;
            let tick = int_arg(&tick, "tick")?;
            let tock = match &tock {
                Value::Nil => None,
                other => Some(int_arg(other, "tock")?),
            };
            Ok(value_stream(axon.history(tick, tock), row_value))
        }))
    }

    async fn api_metrics(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        args.bind("metrics", &[])?;
        sess.req_allowed(&perm("has"))?;
        Ok(Reply::Value(metrics_value(&self.axon)))
    }

    async fn api_put(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let mut bound = args.bind("put", &[("byts", D::Required)])?;
        sess.req_allowed(&perm("upload"))?;
        let byts = bytes_arg(bound.take(0))?;
        let (size, sha256) = self.axon.put(byts).await?;
        Ok(Reply::Value(saved_value(size, &sha256)))
    }

    async fn api_puts(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let mut bound = args.bind("puts", &[("files", D::Required)])?;
        sess.req_allowed(&perm("upload"))?;
        let files = match bound.take(0) {
            Value::Array(items) => items,
            other => {
                return Err(synapse_cell::Error::new(
                    ErrKind::TypeError,
                    format!("'{}' object is not iterable", py_type(&other)),
                ));
            }
        };
        // As the reference, which `put`s each in turn: the files before one that is not bytes
        // are stored, then its error is raised.
        let mut good = Vec::with_capacity(files.len());
        let mut bad = None;
        for file in files {
            match bytes_arg(file) {
                Ok(byts) => good.push(byts),
                Err(err) => {
                    bad = Some(err);
                    break;
                }
            }
        }
        let saved = self.axon.puts(good).await?;
        if let Some(err) = bad {
            return Err(err);
        }
        let out = saved
            .iter()
            .map(|(size, sha256)| saved_value(*size, sha256))
            .collect();
        Ok(Reply::Value(Value::Array(out)))
    }

    async fn api_upload(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        args.bind("upload", &[])?;
        sess.req_allowed(&perm("upload"))?;
        Ok(Reply::Share(Arc::new(UploadShare {
            upload: Mutex::new(self.axon.upload()),
        })))
    }

    async fn api_del(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind("del_", &[("sha256", D::Required)])?;
        sess.req_allowed(&perm("del"))?;
        let key = key_arg(bound.value(0))?;
        let removed = match key.sha256 {
            Some(sha256) => self.axon.del(&sha256).await?,
            None => false,
        };
        Ok(Reply::Value(Value::Boolean(removed)))
    }

    async fn api_dels(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind("dels", &[("sha256s", D::Required)])?;
        sess.req_allowed(&perm("del"))?;
        let keys = keys_arg(bound.value(0))?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            let removed = match key.sha256 {
                Some(sha256) => self.axon.del(&sha256).await?,
                None => false,
            };
            out.push(Value::Boolean(removed));
        }
        Ok(Reply::Value(Value::Array(out)))
    }

    async fn api_readlines(&self, sess: &Session, args: Args, json: bool) -> CellResult<Reply> {
        let name = if json { "jsonlines" } else { "readlines" };
        let bound = args.bind(name, &[("sha256", D::Required), ("errors", D::Nil)])?;
        let allowed = sess.req_allowed(&perm("get"));
        let axon = self.axon.clone();
        let (sha, errors) = (bound.value(0).clone(), bound.value(1).clone());
        Ok(genr(async move {
            allowed?;
            let errors = match &errors {
                Value::Nil => "ignore".to_string(),
                other => synapse_cell::req_str(other, "errors")?,
            };
            let (hex, sha256) = hex_arg(&sha)?;
            let sha256 = sha256.ok_or(Error::NoSuchFile {
                sha256: hex.clone(),
            })?;
            axon.req_size(&sha256).await?;
            let lines = text::readlines(&axon, sha256, &errors).await?;
            if json {
                Ok(value_stream(text::jsonlines(lines, hex), |v| v))
            } else {
                Ok(value_stream(lines, Value::from))
            }
        }))
    }

    async fn api_csvrows(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        // `**fmtparams`: keywords other than the named parameters are format parameters.
        let (named, fmtparams): (Vec<_>, Vec<_>) = args
            .kwargs
            .into_iter()
            .partition(|(k, _)| matches!(k.as_str(), "sha256" | "dialect" | "errors"));
        let args = Args {
            args: args.args,
            kwargs: named,
        };
        let bound = args.bind(
            "csvrows",
            &[
                ("sha256", D::Required),
                ("dialect", D::Nil),
                ("errors", D::Nil),
            ],
        )?;
        let allowed = sess.req_allowed(&perm("get"));
        let axon = self.axon.clone();
        let (sha, dialect, errors) = (
            bound.value(0).clone(),
            bound.value(1).clone(),
            bound.value(2).clone(),
        );
        Ok(genr(async move {
            allowed?;
            let sha256 = key_arg(&sha)?.req()?;
            axon.req_size(&sha256).await?;
            let dialect = match &dialect {
                Value::Nil => "excel".to_string(),
                other => synapse_cell::req_str(other, "dialect")?,
            };
            let errors = match &errors {
                Value::Nil => "ignore".to_string(),
                other => synapse_cell::req_str(other, "errors")?,
            };
            let format = crate::csv::Format::new(&dialect, &fmtparams)?;
            let rows = text::csvrows(&axon, sha256, format, &errors).await?;
            Ok(value_stream(rows, |row: Vec<Value>| Value::Array(row)))
        }))
    }

    async fn api_mpk(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind("iterMpkFile", &[("sha256", D::Required)])?;
        let allowed = sess.req_allowed(&perm("get"));
        let axon = self.axon.clone();
        let sha = bound.value(0).clone();
        Ok(genr(async move {
            allowed?;
            let (hex, sha256) = hex_arg(&sha)?;
            let sha256 = sha256.ok_or(Error::NoSuchFile { sha256: hex })?;
            axon.req_size(&sha256).await?;
            let items = text::mpk_items(&axon, sha256).await?;
            Ok(value_stream(items, |v| v))
        }))
    }

    async fn api_unpack(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind(
            "unpack",
            &[
                ("sha256", D::Required),
                ("fmt", D::Required),
                ("offs", D::Int(0)),
            ],
        )?;
        sess.req_allowed(&perm("get"))?;
        let fmt = match bound.value(1) {
            Value::String(s) => s.as_str().unwrap_or_default().to_string(),
            other => {
                return Err(Error::bad_arg("Format string must be a string")
                    .with("fmt", other.clone())
                    .into());
            }
        };
        let format = crate::unpack::Format::parse(&fmt)?;
        let sha256 = key_arg(bound.value(0))?.req()?;
        self.axon.req_size(&sha256).await?;
        let offs = int_arg(bound.value(2), "offs")?;
        let size = format.size();
        if offs < 0 {
            return Err(Error::bad_arg("Offs must be >= 0")
                .with("offs", offs)
                .into());
        }
        if size < 1 {
            return Err(Error::bad_arg("Size must be >= 1")
                .with("size", size as u64)
                .into());
        }
        let mut byts = Vec::with_capacity(size);
        let mut chunks = self
            .axon
            .get(&sha256, Some((offs.unsigned_abs(), size as u64)))
            .await?;
        while let Some(chunk) = chunks.next().await {
            byts.extend_from_slice(&chunk?);
        }
        if byts.len() != size {
            return Err(Error::bad_data(format!(
                "Expected {size} bytes but got {} bytes",
                byts.len()
            ))
            .with("expected", size as u64)
            .with("received", byts.len() as u64)
            .into());
        }
        Ok(Reply::Value(Value::Array(format.unpack(&byts)?)))
    }
}

/// The common arguments of `wput` / `postfiles` (`params` and after from `first`).
fn http_common(bound: &synapse_cell::Bound, first: usize, url: usize) -> wget::Common {
    let at = |i: usize| bound.value(i).clone();
    wget::Common {
        url: at(url),
        params: at(first),
        headers: at(first + 1),
        method: at(first + 2),
        ssl: at(first + 3),
        timeout: at(first + 4),
        proxy: at(first + 5),
        ssl_opts: at(first + 6),
    }
}

impl AxonService {
    async fn api_wget(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind(
            "wget",
            &[
                ("url", D::Required),
                ("params", D::Nil),
                ("headers", D::Nil),
                ("json", D::Nil),
                ("body", D::Nil),
                ("method", D::Nil),
                ("ssl", D::Bool(true)),
                ("timeout", D::Nil),
                ("proxy", D::Bool(true)),
                ("ssl_opts", D::Nil),
            ],
        )?;
        sess.req_allowed(&perm("wget"))?;
        let at = |i: usize| bound.value(i).clone();
        let common = wget::Common {
            url: at(0),
            params: at(1),
            headers: at(2),
            method: at(5),
            ssl: at(6),
            timeout: at(7),
            proxy: at(8),
            ssl_opts: at(9),
        };
        let prep = wget::prepare(&self.cell.conf(), &common, "GET").await?;
        let info = wget::wget(&self.axon, prep, bound.value(3), bound.value(4)).await;
        Ok(Reply::Value(info))
    }

    async fn api_wput(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind(
            "wput",
            &[
                ("sha256", D::Required),
                ("url", D::Required),
                ("params", D::Nil),
                ("headers", D::Nil),
                ("method", D::Nil),
                ("ssl", D::Bool(true)),
                ("timeout", D::Nil),
                ("proxy", D::Bool(true)),
                ("ssl_opts", D::Nil),
            ],
        )?;
        sess.req_allowed(&perm("wput"))?;
        let prep = wget::prepare(&self.cell.conf(), &http_common(&bound, 2, 1), "PUT").await?;
        let info = wget::wput(&self.axon, prep, bound.value(0)).await;
        Ok(Reply::Value(info))
    }

    async fn api_postfiles(&self, sess: &Session, args: Args) -> CellResult<Reply> {
        let bound = args.bind(
            "postfiles",
            &[
                ("fields", D::Required),
                ("url", D::Required),
                ("params", D::Nil),
                ("headers", D::Nil),
                ("method", D::Nil),
                ("ssl", D::Bool(true)),
                ("timeout", D::Nil),
                ("proxy", D::Bool(true)),
                ("ssl_opts", D::Nil),
            ],
        )?;
        sess.req_allowed(&perm("wput"))?;
        let prep = wget::prepare(&self.cell.conf(), &http_common(&bound, 2, 1), "POST").await?;
        let info = wget::postfiles(&self.axon, prep, bound.value(0)).await;
        Ok(Reply::Value(info))
    }
}

fn bytes_arg(valu: Value) -> CellResult<Vec<u8>> {
    match valu {
        Value::Binary(byts) => Ok(byts),
        Value::String(s) => Err(synapse_cell::Error::new(
            ErrKind::TypeError,
            format!(
                "Strings must be encoded before hashing ({} characters given)",
                s.as_str().map_or(0, str::len)
            ),
        )),
        other => Err(synapse_cell::Error::new(
            ErrKind::TypeError,
            format!(
                "object supporting the buffer API required, not {}",
                py_type(&other)
            ),
        )),
    }
}

/// The upload share (`synapse.axon.UpLoadShare`): `write(byts)` and `save()`.
struct UploadShare {
    upload: Mutex<Upload>,
}

impl ShareObject for UploadShare {
    fn typename(&self) -> &str {
        "upload"
    }

    fn methods(&self) -> Vec<MethDef> {
        vec![MethDef::call("save"), MethDef::call("write")]
    }

    fn classes(&self) -> Vec<String> {
        [
            "synapse.axon.UpLoadShare",
            "synapse.axon.UpLoad",
            "synapse.lib.share.Share",
            "synapse.lib.base.Base",
        ]
        .into_iter()
        .map(String::from)
        .collect()
    }

    fn call(&self, meth: &str, args: Args) -> BoxFuture<'_, CellResult<Reply>> {
        let meth = meth.to_string();
        Box::pin(async move {
            match meth.as_str() {
                "write" => {
                    let mut bound = args.bind("write", &[("byts", D::Required)])?;
                    let byts = bytes_arg(bound.take(0))?;
                    self.upload.lock().await.write(byts).await?;
                    Ok(Reply::Value(Value::Nil))
                }
                "save" => {
                    args.bind("save", &[])?;
                    let (size, sha256) = self.upload.lock().await.save().await?;
                    Ok(Reply::Value(saved_value(size, &sha256)))
                }
                other => Err(synapse_cell::Error::new(
                    ErrKind::NoSuchMeth,
                    format!("UpLoadShare has no method: {other}."),
                )
                .with("name", other)),
            }
        })
    }

    fn fini(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.upload.lock().await.reset();
        })
    }
}
