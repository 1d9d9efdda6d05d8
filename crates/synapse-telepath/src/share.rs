//! Server-side objects: the [`Share`] trait, the [`Methods`] table that implements it with
//! little boilerplate, calls ([`Call`], [`CallCtx`]) and argument binding ([`Params`]).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, OnceLock};

use futures::future::BoxFuture;
use futures::{FutureExt, Stream};
use rmpv::Value;
use tokio_util::sync::CancellationToken;

use crate::error::RemoteError;
use crate::genr::ValueStream;
use crate::raw::{RawParam, RawValue};
use crate::session::{Identity, LinkInfo, Session};
use crate::value::{FromValue, py_type_name};

/// The Synapse version reported in `sharinfo["syn:version"]` (the reference release this crate
/// is compatible with).
pub const SYN_VERSION: (u64, u64, u64) = (2, 256, 0);

/// What a method call produced.
pub enum Reply {
    /// A plain value: `t2:fini {retn: [true, value]}`.
    Value(Value),
    /// A generator: `t2:genr`, then one `t2:yield` per item, then `t2:yield {retn: null}` (or
    /// a `t2:yield` error ending the stream).
    Stream(ValueStream),
    /// A new shared object owned by the session: `t2:share {iden, sharinfo}`.
    Share(Arc<dyn Share>),
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reply::Value(value) => f.debug_tuple("Value").field(value).finish(),
            Reply::Stream(_) => f.write_str("Stream(..)"),
            Reply::Share(share) => f.debug_tuple("Share").field(&share.class_name()).finish(),
        }
    }
}

impl From<Value> for Reply {
    fn from(value: Value) -> Self {
        Reply::Value(value)
    }
}

/// An object callable over telepath: dispatch by method name with positional and keyword
/// arguments.
///
/// Most implementations come from [`Methods::bind`]; implement the trait by hand only for
/// fully dynamic objects.
pub trait Share: Send + Sync + 'static {
    /// The sharinfo map sent to clients (see [`ShareInfo`]).
    fn sharinfo(&self) -> &Value;

    /// The class name used in error messages (e.g. `"CellApi"` in
    /// `"CellApi has no method: x."`).
    fn class_name(&self) -> &str;

    /// Run a method. A missing method must fail with [`RemoteError::no_such_meth`]. (Private
    /// names, starting with `_`, are refused by the daemon before this is called.)
    fn call(&self, call: Call) -> BoxFuture<'static, Result<Reply, RemoteError>>;

    /// The share's type name, sent as `type` in the old protocol's `task:fini` (the
    /// reference's `Share.typename`, e.g. `"upload"`).
    fn typename(&self) -> &str {
        "share"
    }

    /// The parameter of method `meth` that the object wants raw, if any: the daemon then
    /// hands that argument over as msgpack bytes ([`Call::take_raw`]) instead of decoding
    /// it, and leaves `None` in its place among the arguments. The default: none.
    fn raw_param(&self, _meth: &str) -> Option<RawParam> {
        None
    }

    /// Tear the object down: called once when its session ends or the client sends
    /// `share:fini`.
    fn fini(&self) -> BoxFuture<'static, ()> {
        futures::future::ready(()).boxed()
    }
}

/// The reflection data of a shared object: its methods (with the generator flag) and classes.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareInfo {
    /// Method name → is an (async) generator.
    pub meths: BTreeMap<String, bool>,
    /// Class names, most derived first (e.g. `["synapse.lib.cell.CellApi", ...]`).
    pub classes: Vec<String>,
    /// `syn:version`.
    pub version: (u64, u64, u64),
    /// `syn:commit`.
    pub commit: String,
}

impl ShareInfo {
    /// The wire form: `{"meths": {name: {} | {"genr": true}}, "syn:commit", "syn:version",
    /// "classes"}`, with methods sorted by name as Python's `dir()` lists them (private
    /// names, starting with `_`, are left out: they cannot be called).
    pub fn to_value(&self) -> Value {
        let meths = self
            .meths
            .iter()
            .filter(|(name, _)| !name.starts_with('_'))
            .map(|(name, genr)| {
                let info = if *genr {
                    Value::Map(vec![(Value::from("genr"), Value::Boolean(true))])
                } else {
                    Value::Map(Vec::new())
                };
                (Value::from(name.as_str()), info)
            })
            .collect();
        Value::Map(vec![
            (Value::from("meths"), Value::Map(meths)),
            (Value::from("syn:commit"), Value::from(self.commit.as_str())),
            (
                Value::from("syn:version"),
                Value::Array(vec![
                    Value::from(self.version.0),
                    Value::from(self.version.1),
                    Value::from(self.version.2),
                ]),
            ),
            (
                Value::from("classes"),
                Value::Array(
                    self.classes
                        .iter()
                        .map(|name| Value::from(name.as_str()))
                        .collect(),
                ),
            ),
        ])
    }

    /// The short class name: the last dotted part of the first class.
    pub fn class_name(&self) -> &str {
        self.classes
            .first()
            .map(|name| name.rsplit('.').next().unwrap_or(name))
            .unwrap_or("Share")
    }
}

/// The context of one call: who is calling, over which link, and a cancellation token.
#[derive(Clone, Debug)]
pub struct CallCtx {
    session: Option<Session>,
    link: Option<Arc<LinkInfo>>,
    token: CancellationToken,
}

impl Default for CallCtx {
    fn default() -> Self {
        Self::detached()
    }
}

impl CallCtx {
    pub(crate) fn new(
        session: Option<Session>,
        link: Option<Arc<LinkInfo>>,
        token: CancellationToken,
    ) -> Self {
        Self {
            session,
            link,
            token,
        }
    }

    /// A context for an in-process call: no session, no link, a token nobody cancels.
    pub fn detached() -> Self {
        Self {
            session: None,
            link: None,
            token: CancellationToken::new(),
        }
    }

    /// The session the call belongs to.
    pub fn session(&self) -> Option<&Session> {
        self.session.as_ref()
    }

    /// The authenticated user of the session, if any.
    pub fn user(&self) -> Option<&Identity> {
        self.session.as_ref().and_then(Session::user)
    }

    /// The link the call arrived on (a pool link, usually not the handshake link).
    pub fn link(&self) -> Option<&LinkInfo> {
        self.link.as_deref()
    }

    /// Cancelled when the link closes or the client abandons a stream: long work should
    /// select on it (dropping the call's future also cancels it).
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// True once the call was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// One method call: name, arguments and context.
#[derive(Debug)]
pub struct Call {
    /// The method name.
    pub meth: String,
    /// Positional arguments.
    pub args: Vec<Value>,
    /// Keyword arguments.
    pub kwargs: Vec<(String, Value)>,
    /// Who is calling.
    pub ctx: CallCtx,
    class: Arc<str>,
    raw: Option<RawValue>,
}

impl Call {
    /// A call (for in-process use and tests; the daemon builds them from `t2:init`).
    pub fn new(
        meth: impl Into<String>,
        args: Vec<Value>,
        kwargs: Vec<(String, Value)>,
        ctx: CallCtx,
    ) -> Self {
        Self {
            meth: meth.into(),
            args,
            kwargs,
            ctx,
            class: Arc::from("Share"),
            raw: None,
        }
    }

    /// The call with its raw argument (see [`Share::raw_param`]); the argument's own slot
    /// should hold `None`.
    pub fn with_raw(mut self, raw: RawValue) -> Self {
        self.raw = Some(raw);
        self
    }

    /// The raw argument, if the daemon gave one (see [`Share::raw_param`]). Without it (an
    /// in-process call, or the argument was not passed), the argument is among the others as
    /// a decoded value.
    pub fn take_raw(&mut self) -> Option<RawValue> {
        self.raw.take()
    }

    /// The class that defined the called method (set by the object before dispatch; used in
    /// argument errors, e.g. `CellApi.getCellIden()`).
    pub fn class_name(&self) -> &str {
        &self.class
    }

    /// Set the class name used in argument errors.
    pub fn set_class_name(&mut self, class: &str) {
        self.class = Arc::from(class);
    }

    /// Bind the arguments to named parameters, as a Python signature would.
    ///
    /// `spec` lists the parameters in order: `"name"` is required, `"name="` has a default
    /// (read it with [`Params::opt`] or [`Params::or`]), then `"*"` accepts more positional
    /// arguments ([`Params::rest`], Python's `*args`) and a final `"**"` other keyword
    /// arguments ([`Params::extra`], Python's `**kwargs`). Too many positional arguments, unknown or
    /// duplicate keywords and missing required parameters fail with the reference's
    /// `TypeError` messages, e.g. `"CellApi.getCellIden() takes 1 positional argument but 4
    /// were given"`.
    pub fn params(&mut self, spec: &[&str]) -> Result<Params, RemoteError> {
        let args = std::mem::take(&mut self.args);
        let kwargs = std::mem::take(&mut self.kwargs);
        Params::bind(&self.class, &self.meth, spec, args, kwargs)
    }

    /// Fail unless the call has no arguments (for methods without parameters).
    pub fn no_args(&mut self) -> Result<(), RemoteError> {
        self.params(&[]).map(|_| ())
    }
}

/// Arguments bound to parameter names; see [`Call::params`].
#[derive(Debug)]
pub struct Params {
    class: Arc<str>,
    meth: String,
    names: Vec<String>,
    values: Vec<Option<Value>>,
    rest: Vec<Value>,
    extra: Vec<(String, Value)>,
}

impl Params {
    fn bind(
        class: &Arc<str>,
        meth: &str,
        spec: &[&str],
        args: Vec<Value>,
        kwargs: Vec<(String, Value)>,
    ) -> Result<Params, RemoteError> {
        let accepts_extra = spec.last() == Some(&"**");
        let spec = if accepts_extra {
            &spec[..spec.len() - 1]
        } else {
            spec
        };
        let accepts_rest = spec.last() == Some(&"*");
        let spec = if accepts_rest {
            &spec[..spec.len() - 1]
        } else {
            spec
        };
        let names: Vec<String> = spec
            .iter()
            .map(|name| name.trim_end_matches('=').to_owned())
            .collect();
        let required: Vec<bool> = spec.iter().map(|name| !name.ends_with('=')).collect();
        let fq = format!("{class}.{meth}()");

        let mut args = args;
        let rest = if accepts_rest && args.len() > names.len() {
            args.split_off(names.len())
        } else {
            Vec::new()
        };
        if args.len() > names.len() {
            let nreq = required.iter().filter(|req| **req).count();
            let takes = if nreq == names.len() {
                let n = names.len() + 1;
                format!("{n} positional argument{}", if n == 1 { "" } else { "s" })
            } else {
                format!(
                    "from {} to {} positional arguments",
                    nreq + 1,
                    names.len() + 1
                )
            };
            let given = args.len() + 1;
            return Err(RemoteError::type_error(format!(
                "{fq} takes {takes} but {given} {} given",
                if given == 1 { "was" } else { "were" }
            )));
        }

        let mut values: Vec<Option<Value>> = vec![None; names.len()];
        for (slot, arg) in values.iter_mut().zip(args) {
            *slot = Some(arg);
        }
        let mut extra = Vec::new();
        for (key, val) in kwargs {
            match names.iter().position(|name| *name == key) {
                Some(idx) => {
                    if values[idx].is_some() {
                        return Err(RemoteError::type_error(format!(
                            "{fq} got multiple values for argument '{key}'"
                        )));
                    }
                    values[idx] = Some(val);
                }
                None if accepts_extra => extra.push((key, val)),
                None => {
                    return Err(RemoteError::type_error(format!(
                        "{fq} got an unexpected keyword argument '{key}'"
                    )));
                }
            }
        }
        let missing: Vec<String> = names
            .iter()
            .zip(&required)
            .zip(&values)
            .filter(|((_, req), val)| **req && val.is_none())
            .map(|((name, _), _)| format!("'{name}'"))
            .collect();
        if !missing.is_empty() {
            let list = match missing.len() {
                1 => missing[0].clone(),
                2 => format!("{} and {}", missing[0], missing[1]),
                n => format!("{}, and {}", missing[..n - 1].join(", "), missing[n - 1]),
            };
            let n = missing.len();
            return Err(RemoteError::type_error(format!(
                "{fq} missing {n} required positional argument{}: {list}",
                if n == 1 { "" } else { "s" }
            )));
        }
        Ok(Params {
            class: Arc::clone(class),
            meth: meth.to_owned(),
            names,
            values,
            rest,
            extra,
        })
    }

    fn take(&mut self, name: &str) -> Result<Option<Value>, RemoteError> {
        match self.names.iter().position(|have| have == name) {
            Some(idx) => Ok(self.values[idx].take()),
            None => Err(RemoteError::syn_err(format!(
                "{}.{}() has no parameter named {name}",
                self.class, self.meth
            ))),
        }
    }

    fn convert<T: FromValue>(&self, name: &str, value: Value) -> Result<T, RemoteError> {
        T::from_value(value).map_err(|value| {
            RemoteError::bad_arg(format!(
                "{}.{}() argument '{name}' must be {}, not {}",
                self.class,
                self.meth,
                T::EXPECTED,
                py_type_name(&value)
            ))
            .with("name", name)
        })
    }

    /// A required parameter (its presence was checked by [`Call::params`]); a value of the
    /// wrong type fails with `BadArg`.
    pub fn req<T: FromValue>(&mut self, name: &str) -> Result<T, RemoteError> {
        let value = self.take(name)?.unwrap_or(Value::Nil);
        self.convert(name, value)
    }

    /// An optional parameter: `None` when it was not given (or given as nil).
    pub fn opt<T: FromValue>(&mut self, name: &str) -> Result<Option<T>, RemoteError> {
        match self.take(name)? {
            None | Some(Value::Nil) => Ok(None),
            Some(value) => self.convert(name, value).map(Some),
        }
    }

    /// An optional parameter with a default.
    pub fn or<T: FromValue>(&mut self, name: &str, default: T) -> Result<T, RemoteError> {
        Ok(self.opt(name)?.unwrap_or(default))
    }

    /// Positional arguments after the named ones (when the spec has `"*"`).
    pub fn rest(&mut self) -> Vec<Value> {
        std::mem::take(&mut self.rest)
    }

    /// Keyword arguments not matching a parameter (when the spec ends with `"**"`).
    pub fn extra(&mut self) -> Vec<(String, Value)> {
        std::mem::take(&mut self.extra)
    }
}

type Handler<T> =
    Arc<dyn Fn(Arc<T>, Call) -> BoxFuture<'static, Result<Reply, RemoteError>> + Send + Sync>;
type FiniHook<T> = Arc<dyn Fn(Arc<T>) -> BoxFuture<'static, ()> + Send + Sync>;

/// A method table for objects of type `T`: build it once per type, then [`Methods::bind`] it
/// to each object (e.g. each session's API object).
///
/// ```
/// use std::sync::Arc;
/// use synapse_telepath::{Call, Methods, RemoteError, Value, genr};
///
/// struct Api { greeting: String }
///
/// let methods = Arc::new(
///     Methods::<Api>::new(["example.Api"])
///         .unary("greet", |api, mut call: Call| async move {
///             let mut params = call.params(&["name"])?;
///             let name: String = params.req("name")?;
///             Ok(Value::from(format!("{} {name}", api.greeting)))
///         })
///         .genr("count", |_api, mut call: Call| {
///             let n: i64 = call.params(&["n"])?.req("n")?;
///             Ok(genr(move |y| async move {
///                 for i in 0..n {
///                     y.emit(i).await;
///                 }
///                 Ok(())
///             }))
///         }),
/// );
/// let share = methods.bind(Arc::new(Api { greeting: "hello".into() }));
/// assert_eq!(share.class_name(), "Api");
/// ```
pub struct Methods<T> {
    info: ShareInfo,
    /// Method name → (handler, the class that defined it, for argument errors).
    table: HashMap<String, (Handler<T>, Arc<str>)>,
    /// Method name → the parameter it takes raw.
    raw: HashMap<String, RawParam>,
    on_fini: Option<FiniHook<T>>,
    typename: String,
    value: OnceLock<Value>,
}

impl<T: Send + Sync + 'static> Methods<T> {
    /// An empty table; `classes` are the class names for sharinfo, most derived first (the
    /// reference's MRO without `object`).
    pub fn new<I, S>(classes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            info: ShareInfo {
                meths: BTreeMap::new(),
                classes: classes.into_iter().map(Into::into).collect(),
                version: SYN_VERSION,
                commit: String::new(),
            },
            table: HashMap::new(),
            raw: HashMap::new(),
            on_fini: None,
            typename: "share".to_owned(),
            value: OnceLock::new(),
        }
    }

    /// Report another `syn:version` / `syn:commit` in sharinfo.
    pub fn version(mut self, version: (u64, u64, u64), commit: &str) -> Self {
        self.info.version = version;
        self.info.commit = commit.to_owned();
        self
    }

    /// The type name used by the old protocol's `task:fini` (the reference's
    /// `Share.typename`, e.g. `"upload"`).
    pub fn typename(mut self, typename: &str) -> Self {
        self.typename = typename.to_owned();
        self
    }

    /// The reflection data so far.
    pub fn info(&self) -> &ShareInfo {
        &self.info
    }

    /// Add a method returning any [`Reply`]; `genr` sets the generator flag in sharinfo
    /// (clients use it to choose a streaming call).
    pub fn method<F, Fut>(mut self, name: &str, genr: bool, func: F) -> Self
    where
        F: Fn(Arc<T>, Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Reply, RemoteError>> + Send + 'static,
    {
        self.info.meths.insert(name.to_owned(), genr);
        let owner: Arc<str> = Arc::from(self.info.class_name());
        self.table.insert(
            name.to_owned(),
            (Arc::new(move |this, call| func(this, call).boxed()), owner),
        );
        self
    }

    /// Have method `meth` take its parameter `name` (at position `index`) raw: see
    /// [`Share::raw_param`] and [`Call::take_raw`].
    pub fn raw_param(mut self, meth: &str, index: usize, name: &'static str) -> Self {
        self.raw.insert(meth.to_owned(), RawParam { index, name });
        self
    }

    /// The parameter `meth` takes raw, if any.
    pub fn raw_param_of(&self, meth: &str) -> Option<RawParam> {
        self.raw.get(meth).copied()
    }

    /// Add a method returning one value.
    pub fn unary<F, Fut, R>(self, name: &str, func: F) -> Self
    where
        F: Fn(Arc<T>, Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, RemoteError>> + Send + 'static,
        R: Into<Value>,
    {
        self.method(name, false, move |this, call| {
            let fut = func(this, call);
            async move { fut.await.map(|value| Reply::Value(value.into())) }
        })
    }

    /// Add a generator method (flagged `genr` in sharinfo). `func` runs when the call
    /// arrives: an `Err` from it is a plain `t2:fini` error (as for a Python generator called
    /// with bad arguments); errors from the stream end it with a `t2:yield` error.
    pub fn genr<F, S>(self, name: &str, func: F) -> Self
    where
        F: Fn(Arc<T>, Call) -> Result<S, RemoteError> + Send + Sync + 'static,
        S: Stream<Item = Result<Value, RemoteError>> + Send + 'static,
    {
        self.method(name, true, move |this, call| {
            let res = func(this, call).map(|stream| Reply::Stream(Box::pin(stream)));
            futures::future::ready(res)
        })
    }

    /// Add a method returning a new shared object (`t2:share`), such as an upload handle.
    pub fn share<F, Fut>(self, name: &str, func: F) -> Self
    where
        F: Fn(Arc<T>, Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Arc<dyn Share>, RemoteError>> + Send + 'static,
    {
        self.method(name, false, move |this, call| {
            let fut = func(this, call);
            async move { fut.await.map(Reply::Share) }
        })
    }

    /// Copy every method of `base` (an ancestor's table), reaching the ancestor's object
    /// through `project`. Methods added later override inherited ones of the same name.
    pub fn inherit<B, P>(mut self, base: &Methods<B>, project: P) -> Self
    where
        B: Send + Sync + 'static,
        P: Fn(&Arc<T>) -> Arc<B> + Send + Sync + 'static,
    {
        let project = Arc::new(project);
        for (name, (handler, owner)) in &base.table {
            let handler = Arc::clone(handler);
            let project = Arc::clone(&project);
            let genr = base.info.meths.get(name).copied().unwrap_or(false);
            self.info.meths.insert(name.clone(), genr);
            let wrapped: Handler<T> =
                Arc::new(move |this: Arc<T>, call| handler(project(&this), call));
            self.table
                .insert(name.clone(), (wrapped, Arc::clone(owner)));
            match base.raw.get(name) {
                Some(param) => self.raw.insert(name.clone(), *param),
                None => self.raw.remove(name),
            };
        }
        self
    }

    /// Run `hook` when a bound object is torn down (session end or `share:fini`).
    pub fn on_fini<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Arc<T>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.on_fini = Some(Arc::new(move |this| hook(this).boxed()));
        self
    }

    /// True if the table has `name`.
    pub fn has(&self, name: &str) -> bool {
        self.table.contains_key(name)
    }

    /// Make a shared object from `this` and the table.
    pub fn bind(self: &Arc<Self>, this: Arc<T>) -> Arc<dyn Share> {
        Arc::new(Bound {
            this,
            methods: Arc::clone(self),
            class: Arc::from(self.info.class_name()),
        })
    }

    fn sharinfo_value(&self) -> &Value {
        self.value.get_or_init(|| self.info.to_value())
    }
}

struct Bound<T> {
    this: Arc<T>,
    methods: Arc<Methods<T>>,
    class: Arc<str>,
}

impl<T: Send + Sync + 'static> Share for Bound<T> {
    fn sharinfo(&self) -> &Value {
        self.methods.sharinfo_value()
    }

    fn class_name(&self) -> &str {
        &self.class
    }

    fn call(&self, mut call: Call) -> BoxFuture<'static, Result<Reply, RemoteError>> {
        match self.methods.table.get(&call.meth) {
            Some((handler, owner)) => {
                // Argument errors name the class that defined the method, as Python's do.
                call.class = Arc::clone(owner);
                handler(Arc::clone(&self.this), call)
            }
            None => {
                let err = RemoteError::no_such_meth(&self.class, &call.meth);
                futures::future::ready(Err(err)).boxed()
            }
        }
    }

    fn typename(&self) -> &str {
        &self.methods.typename
    }

    fn raw_param(&self, meth: &str) -> Option<RawParam> {
        self.methods.raw_param_of(meth)
    }

    fn fini(&self) -> BoxFuture<'static, ()> {
        match &self.methods.on_fini {
            Some(hook) => hook(Arc::clone(&self.this)),
            None => futures::future::ready(()).boxed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::genr::genr;
    use crate::value::ValueExt;
    use futures::StreamExt;

    struct Api {
        base: i64,
    }

    fn methods() -> Arc<Methods<Api>> {
        Arc::new(
            Methods::<Api>::new(["test.TestApi", "synapse.lib.share.Share"])
                .unary("add", |api, mut call: Call| async move {
                    let mut params = call.params(&["x", "y="])?;
                    let x: i64 = params.req("x")?;
                    let y: i64 = params.or("y", 0)?;
                    Ok(Value::from(api.base + x + y))
                })
                .genr("count", |_api, mut call: Call| {
                    let n: i64 = call.params(&["n"])?.req("n")?;
                    Ok(genr(move |y| async move {
                        for i in 0..n {
                            y.emit(i).await;
                        }
                        Ok(())
                    }))
                }),
        )
    }

    async fn call(
        share: &Arc<dyn Share>,
        meth: &str,
        args: Vec<Value>,
        kwargs: Vec<(&str, Value)>,
    ) -> Result<Reply, RemoteError> {
        let kwargs = kwargs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        share
            .call(Call::new(meth, args, kwargs, CallCtx::detached()))
            .await
    }

    #[tokio::test]
    async fn dispatch_and_binding() {
        let share = methods().bind(Arc::new(Api { base: 100 }));
        let Reply::Value(v) = call(
            &share,
            "add",
            vec![Value::from(1)],
            vec![("y", Value::from(2))],
        )
        .await
        .unwrap() else {
            panic!()
        };
        assert_eq!(v, Value::from(103));

        let err = call(&share, "add", vec![], vec![]).await.unwrap_err();
        assert_eq!(err.name, "TypeError");
        assert_eq!(
            err.mesg(),
            Some("TestApi.add() missing 1 required positional argument: 'x'")
        );

        let err = call(
            &share,
            "add",
            vec![Value::from(1), Value::from(2), Value::from(3)],
            vec![],
        )
        .await
        .unwrap_err();
        assert_eq!(
            err.mesg(),
            Some("TestApi.add() takes from 2 to 3 positional arguments but 4 were given")
        );

        let err = call(&share, "add", vec![Value::from(1)], vec![("z", Value::Nil)])
            .await
            .unwrap_err();
        assert_eq!(
            err.mesg(),
            Some("TestApi.add() got an unexpected keyword argument 'z'")
        );

        let err = call(&share, "add", vec![Value::from(1)], vec![("x", Value::Nil)])
            .await
            .unwrap_err();
        assert_eq!(
            err.mesg(),
            Some("TestApi.add() got multiple values for argument 'x'")
        );

        let err = call(&share, "add", vec![Value::from("no")], vec![])
            .await
            .unwrap_err();
        assert_eq!(err.name, "BadArg");
        assert_eq!(
            err.mesg(),
            Some("TestApi.add() argument 'x' must be int, not str")
        );

        let err = call(&share, "nope", vec![], vec![]).await.unwrap_err();
        assert_eq!(err.mesg(), Some("TestApi has no method: nope."));

        let Reply::Stream(stream) = call(&share, "count", vec![Value::from(3)], vec![])
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(stream.count().await, 3);
    }

    #[test]
    fn python_style_arg_count_messages() {
        let class: Arc<str> = Arc::from("CellApi");
        let err = Params::bind(
            &class,
            "getCellIden",
            &[],
            vec![Value::from(1), Value::from(2), Value::from(3)],
            vec![],
        )
        .unwrap_err();
        assert_eq!(
            err.mesg(),
            Some("CellApi.getCellIden() takes 1 positional argument but 4 were given")
        );
        let err = Params::bind(&class, "f", &["a", "b", "c"], vec![], vec![]).unwrap_err();
        assert_eq!(
            err.mesg(),
            Some("CellApi.f() missing 3 required positional arguments: 'a', 'b', and 'c'")
        );
        let err = Params::bind(&class, "f", &["a", "b"], vec![], vec![]).unwrap_err();
        assert_eq!(
            err.mesg(),
            Some("CellApi.f() missing 2 required positional arguments: 'a' and 'b'")
        );
        let mut rest = Params::bind(
            &class,
            "f",
            &["a", "*"],
            vec![Value::from(1), Value::from(2), Value::from(3)],
            vec![],
        )
        .unwrap();
        assert_eq!(rest.req::<i64>("a").unwrap(), 1);
        assert_eq!(rest.rest(), vec![Value::from(2), Value::from(3)]);
        let mut params = Params::bind(
            &class,
            "f",
            &["a", "**"],
            vec![Value::from(1)],
            vec![("k".into(), Value::from(2))],
        )
        .unwrap();
        assert_eq!(params.extra().len(), 1);
    }

    #[test]
    fn sharinfo_layout() {
        let methods = methods();
        let share = methods.bind(Arc::new(Api { base: 0 }));
        let info = share.sharinfo();
        let meths = info.get_key("meths").unwrap();
        assert_eq!(meths.get_key("add"), Some(&Value::Map(vec![])));
        assert_eq!(
            meths.get_key("count").unwrap().get_key("genr"),
            Some(&Value::Boolean(true))
        );
        assert_eq!(
            info.get_key("syn:version"),
            Some(&Value::Array(vec![
                Value::from(2),
                Value::from(256),
                Value::from(0)
            ]))
        );
        assert_eq!(
            info.get_key("classes").unwrap()[0],
            Value::from("test.TestApi")
        );
        // Keys in the reference's order.
        let keys: Vec<_> = info
            .as_map()
            .unwrap()
            .iter()
            .map(|(k, _)| k.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(keys, ["meths", "syn:commit", "syn:version", "classes"]);
    }

    #[tokio::test]
    async fn inheritance_and_override() {
        struct Child {
            parent: Arc<Api>,
        }
        let base = methods();
        let child = Arc::new(
            Methods::<Child>::new(["test.ChildApi"])
                .inherit(&base, |child: &Arc<Child>| Arc::clone(&child.parent))
                .unary(
                    "count",
                    |_c, _call| async move { Ok(Value::from("overridden")) },
                ),
        );
        let share = child.bind(Arc::new(Child {
            parent: Arc::new(Api { base: 1 }),
        }));
        let Reply::Value(v) = call(&share, "add", vec![Value::from(1)], vec![])
            .await
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(v, Value::from(2));
        let Reply::Value(v) = call(&share, "count", vec![], vec![]).await.unwrap() else {
            panic!()
        };
        assert_eq!(v, Value::from("overridden"));
        // The override is not a generator any more.
        assert_eq!(share.sharinfo()["meths"]["count"], Value::Map(vec![]));
        // Argument errors name the class that defined the method, NoSuchMeth the object's.
        let err = call(&share, "add", vec![], vec![]).await.unwrap_err();
        assert_eq!(
            err.mesg(),
            Some("TestApi.add() missing 1 required positional argument: 'x'")
        );
        let err = call(&share, "nope", vec![], vec![]).await.unwrap_err();
        assert_eq!(err.mesg(), Some("ChildApi has no method: nope."));
    }
}
