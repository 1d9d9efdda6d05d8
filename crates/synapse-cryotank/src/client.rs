//! Typed telepath clients of a Cryotank: [`CryoClient`] for the cell API (`tcp://host/`) and
//! [`TankClient`] for one tank (`tcp://host/cryotank/<name>`). They work against our server
//! and against the reference's.

use futures::stream::{BoxStream, StreamExt};
use rmpv::Value;
use synapse_telepath::{Error, Kwargs, Proxy};

use crate::tank::SliceOpts;

/// A stream of `(offset, value)` rows from a server.
pub type RowStream = BoxStream<'static, Result<(u64, Value), Error>>;

/// The keyword arguments of a slice call (only what differs from the defaults).
fn slice_kwargs(opts: SliceOpts) -> Kwargs {
    let mut kwargs = Kwargs::new();
    if let Some(size) = opts.size {
        kwargs.push(("size".into(), Value::from(size)));
    }
    if opts.wait {
        kwargs.push(("wait".into(), Value::Boolean(true)));
    }
    if let Some(timeout) = opts.timeout {
        kwargs.push(("timeout".into(), Value::F64(timeout.as_secs_f64())));
    }
    kwargs
}

fn size_kwargs(size: Option<u64>) -> Kwargs {
    size.map(|size| vec![("size".to_string(), Value::from(size))])
        .unwrap_or_default()
}

fn bad(what: &str, valu: &Value) -> Error {
    Error::BadMesgFormat(format!("unexpected {what} result: {valu}"))
}

/// An `(offset, item)` pair.
fn pair(valu: Value) -> Result<(u64, Value), Error> {
    match valu {
        Value::Array(mut items) if items.len() == 2 => {
            let item = items.pop().unwrap_or(Value::Nil);
            match items.pop().as_ref().and_then(Value::as_u64) {
                Some(offs) => Ok((offs, item)),
                None => Err(bad("row", &Value::Array(items))),
            }
        }
        other => Err(bad("row", &other)),
    }
}

fn rows(stream: synapse_telepath::RemoteStream) -> RowStream {
    stream.map(|row| row.and_then(pair)).boxed()
}

fn count(what: &str, valu: Value) -> Result<u64, Error> {
    valu.as_u64().ok_or_else(|| bad(what, &valu))
}

/// A client of a Cryotank's cell API (`CryoApi`).
#[derive(Clone)]
pub struct CryoClient {
    proxy: Proxy,
}

impl std::fmt::Debug for CryoClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CryoClient").finish_non_exhaustive()
    }
}

impl CryoClient {
    /// Connect to a cryotank cell URL (`tcp://user:passwd@host:port/`).
    pub async fn open(url: &str) -> Result<Self, Error> {
        Ok(Self::from_proxy(Proxy::open(url).await?))
    }

    /// Use an open proxy.
    pub fn from_proxy(proxy: Proxy) -> Self {
        Self { proxy }
    }

    /// The proxy, for other `CellApi` methods.
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// Create the tank `name` if needed (with slab options `conf`); returns its iden.
    pub async fn init(&self, name: &str, conf: Option<Value>) -> Result<String, Error> {
        let mut args = vec![Value::from(name)];
        if let Some(conf) = conf {
            args.push(conf);
        }
        let valu = self.proxy.call("init", args, vec![]).await?;
        match valu {
            Value::String(iden) if iden.as_str().is_some() => {
                Ok(iden.into_str().unwrap_or_default())
            }
            other => Err(bad("init", &other)),
        }
    }

    /// `(name, info)` of the tanks the user may read.
    pub async fn list(&self) -> Result<Vec<(String, Value)>, Error> {
        let valu = self.proxy.call("list", vec![], vec![]).await?;
        let Value::Array(items) = valu else {
            return Err(bad("list", &valu));
        };
        items
            .into_iter()
            .map(|item| match item {
                Value::Array(mut pair) if pair.len() == 2 => {
                    let info = pair.pop().unwrap_or(Value::Nil);
                    match pair.pop() {
                        Some(Value::String(name)) if name.as_str().is_some() => {
                            Ok((name.into_str().unwrap_or_default(), info))
                        }
                        other => Err(bad("list", &other.unwrap_or(Value::Nil))),
                    }
                }
                other => Err(bad("list", &other)),
            })
            .collect()
    }

    /// Add records to the tank `name`; returns how many were added.
    pub async fn puts(&self, name: &str, items: Vec<Value>) -> Result<u64, Error> {
        let valu = self
            .proxy
            .call("puts", vec![Value::from(name), Value::Array(items)], vec![])
            .await?;
        count("puts", valu)
    }

    /// Records of `name` from `offs`.
    pub async fn slice(&self, name: &str, offs: u64, opts: SliceOpts) -> Result<RowStream, Error> {
        let stream = self
            .proxy
            .stream(
                "slice",
                vec![Value::from(name), Value::from(offs)],
                slice_kwargs(opts),
            )
            .await?;
        Ok(rows(stream))
    }

    /// Packed records of `name` from `offs`: `(offset, msgpack bytes)`.
    pub async fn rows(
        &self,
        name: &str,
        offs: u64,
        size: Option<u64>,
    ) -> Result<BoxStream<'static, Result<(u64, Vec<u8>), Error>>, Error> {
        let size = size.map_or(Value::Nil, Value::from);
        let stream = self
            .proxy
            .stream(
                "rows",
                vec![Value::from(name), Value::from(offs), size],
                vec![],
            )
            .await?;
        Ok(stream
            .map(|row| {
                let (offs, byts) = pair(row?)?;
                match byts {
                    Value::Binary(byts) => Ok((offs, byts)),
                    other => Err(bad("rows", &other)),
                }
            })
            .boxed())
    }

    /// The last record of `name`.
    pub async fn last(&self, name: &str) -> Result<Option<(u64, Value)>, Error> {
        match self
            .proxy
            .call("last", vec![Value::from(name)], vec![])
            .await?
        {
            Value::Nil => Ok(None),
            other => pair(other).map(Some),
        }
    }

    /// Metrics rows of `name` from `offs`.
    pub async fn metrics(
        &self,
        name: &str,
        offs: u64,
        size: Option<u64>,
    ) -> Result<RowStream, Error> {
        let stream = self
            .proxy
            .stream(
                "metrics",
                vec![Value::from(name), Value::from(offs)],
                size_kwargs(size),
            )
            .await?;
        Ok(rows(stream))
    }

    /// Delete the tank `name` (admin only); false if there was none.
    pub async fn delete(&self, name: &str) -> Result<bool, Error> {
        match self
            .proxy
            .call("delete", vec![Value::from(name)], vec![])
            .await?
        {
            Value::Boolean(done) => Ok(done),
            other => Err(bad("delete", &other)),
        }
    }

    /// Close the connection.
    pub async fn fini(&self) {
        self.proxy.fini().await;
    }
}

/// A client of one tank (`TankApi`, URL `tcp://host/cryotank/<name>`).
#[derive(Clone)]
pub struct TankClient {
    proxy: Proxy,
}

impl std::fmt::Debug for TankClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TankClient").finish_non_exhaustive()
    }
}

impl TankClient {
    /// Connect to a tank URL (`tcp://user:passwd@host:port/cryotank/<name>`); the tank is
    /// created if missing.
    pub async fn open(url: &str) -> Result<Self, Error> {
        Ok(Self::from_proxy(Proxy::open(url).await?))
    }

    /// Use an open proxy.
    pub fn from_proxy(proxy: Proxy) -> Self {
        Self { proxy }
    }

    /// The proxy.
    pub fn proxy(&self) -> &Proxy {
        &self.proxy
    }

    /// The tank iden.
    pub async fn iden(&self) -> Result<String, Error> {
        match self.proxy.call("iden", vec![], vec![]).await? {
            Value::String(iden) if iden.as_str().is_some() => {
                Ok(iden.into_str().unwrap_or_default())
            }
            other => Err(bad("iden", &other)),
        }
    }

    /// Add records; returns how many were added.
    pub async fn puts(&self, items: Vec<Value>) -> Result<u64, Error> {
        let valu = self
            .proxy
            .call("puts", vec![Value::Array(items)], vec![])
            .await?;
        count("puts", valu)
    }

    /// Records from `offs`.
    pub async fn slice(&self, offs: u64, opts: SliceOpts) -> Result<RowStream, Error> {
        let stream = self
            .proxy
            .stream("slice", vec![Value::from(offs)], slice_kwargs(opts))
            .await?;
        Ok(rows(stream))
    }

    /// Metrics rows from `offs`.
    pub async fn metrics(&self, offs: u64, size: Option<u64>) -> Result<RowStream, Error> {
        let stream = self
            .proxy
            .stream("metrics", vec![Value::from(offs)], size_kwargs(size))
            .await?;
        Ok(rows(stream))
    }

    /// Close the connection.
    pub async fn fini(&self) {
        self.proxy.fini().await;
    }
}
