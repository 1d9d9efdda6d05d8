//! Cell configuration: a schema per cell type, the sources (command line, environment,
//! `cell.yaml`, `cell.mods.yaml`) and their precedence, and validation at start.
//!
//! The schema is the base cell's directives ([`base_confdefs`]) plus the service's own
//! ([`crate::ServiceDef::confdefs`]). Sources are applied "set only if not already set", so the
//! first source wins: command line, then `SYN_<TYPE>_<KEY>` environment variables (YAML
//! parsed), then `cell.yaml`; `cell.mods.yaml` is applied last and overrides everything.
//! Unknown keys, wrong types and bad values are refused with a message naming the key.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use regex::Regex;
use serde_json::{Value as Json, json};

use crate::error::{ErrKind, Error, Result};

/// A JSON type a directive may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfType {
    /// A string.
    String,
    /// An integer.
    Integer,
    /// Any number.
    Number,
    /// `true` / `false`.
    Boolean,
    /// A map.
    Object,
    /// A list.
    Array,
    /// `null`.
    Null,
}

impl ConfType {
    fn name(self) -> &'static str {
        match self {
            ConfType::String => "string",
            ConfType::Integer => "integer",
            ConfType::Number => "number",
            ConfType::Boolean => "boolean",
            ConfType::Object => "object",
            ConfType::Array => "array",
            ConfType::Null => "null",
        }
    }

    fn matches(self, valu: &Json) -> bool {
        match self {
            ConfType::String => valu.is_string(),
            ConfType::Integer => valu.is_i64() || valu.is_u64(),
            ConfType::Number => valu.is_number(),
            ConfType::Boolean => valu.is_boolean(),
            ConfType::Object => valu.is_object(),
            ConfType::Array => valu.is_array(),
            ConfType::Null => valu.is_null(),
        }
    }
}

/// The subset of JSON schema (draft 7) that Synapse's configuration uses.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    types: Vec<ConfType>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    min_length: Option<usize>,
    pattern: Option<(String, Regex)>,
    not_word: Option<String>,
    items: Option<Box<Schema>>,
    tuple_items: Vec<Schema>,
    min_items: Option<usize>,
    max_items: Option<usize>,
    properties: Vec<(String, Schema)>,
    required: Vec<String>,
    closed: bool,
}

impl Schema {
    /// A schema accepting the given types (any type if empty).
    pub fn of(types: &[ConfType]) -> Self {
        Self {
            types: types.to_vec(),
            ..Self::default()
        }
    }

    /// Numbers must be at least `min`.
    #[must_use]
    pub fn minimum(mut self, min: f64) -> Self {
        self.minimum = Some(min);
        self
    }

    /// Numbers must be at most `max`.
    #[must_use]
    pub fn maximum(mut self, max: f64) -> Self {
        self.maximum = Some(max);
        self
    }

    /// Strings must have at least `len` characters.
    #[must_use]
    pub fn min_length(mut self, len: usize) -> Self {
        self.min_length = Some(len);
        self
    }

    /// Strings must match `pattern` (a regex searched anywhere, as JSON schema does).
    ///
    /// # Panics
    /// If the pattern does not compile; patterns are compile-time constants of the code.
    #[must_use]
    #[allow(clippy::expect_used)]
    pub fn pattern(mut self, pattern: &str) -> Self {
        let regex = Regex::new(pattern).expect("invalid schema pattern");
        self.pattern = Some((pattern.to_string(), regex));
        self
    }

    /// Strings must be non-empty and differ from `word` (the reference's `^(?!word$).+$`).
    #[must_use]
    pub fn not_word(mut self, word: &str) -> Self {
        self.not_word = Some(word.to_string());
        self
    }

    /// Every list item must match `items`.
    #[must_use]
    pub fn items(mut self, items: Schema) -> Self {
        self.items = Some(Box::new(items));
        self
    }

    /// List items must match these schemas by position.
    #[must_use]
    pub fn tuple_items(mut self, items: Vec<Schema>) -> Self {
        self.tuple_items = items;
        self
    }

    /// Lists must have at least `n` items.
    #[must_use]
    pub fn min_items(mut self, n: usize) -> Self {
        self.min_items = Some(n);
        self
    }

    /// Lists must have at most `n` items.
    #[must_use]
    pub fn max_items(mut self, n: usize) -> Self {
        self.max_items = Some(n);
        self
    }

    /// A property of a map.
    #[must_use]
    pub fn property(mut self, name: &str, schema: Schema) -> Self {
        self.properties.push((name.to_string(), schema));
        self
    }

    /// Required map keys.
    #[must_use]
    pub fn required(mut self, names: &[&str]) -> Self {
        self.required = names.iter().map(|n| n.to_string()).collect();
        self
    }

    /// Refuse map keys not listed as properties (`additionalProperties: false`).
    #[must_use]
    pub fn closed(mut self) -> Self {
        self.closed = true;
        self
    }

    /// The accepted types.
    pub fn types(&self) -> &[ConfType] {
        &self.types
    }

    /// Validate `valu`; `path` names it in messages (`data`, `data.name`, `data[0]`).
    /// Messages follow the reference's validator (fastjsonschema).
    pub fn validate(&self, valu: &Json, path: &str) -> std::result::Result<(), String> {
        if !self.types.is_empty() && !self.types.iter().any(|t| t.matches(valu)) {
            let names: Vec<&str> = self.types.iter().map(|t| t.name()).collect();
            return Err(format!("{path} must be {}", names.join(" or ")));
        }
        if let Some(num) = valu.as_f64().filter(|_| valu.is_number()) {
            if let Some(min) = self.minimum.filter(|min| num < *min) {
                return Err(format!(
                    "{path} must be bigger than or equal to {}",
                    fmt_num(min)
                ));
            }
            if let Some(max) = self.maximum.filter(|max| num > *max) {
                return Err(format!(
                    "{path} must be smaller than or equal to {}",
                    fmt_num(max)
                ));
            }
        }
        if let Some(text) = valu.as_str() {
            if let Some(min) = self.min_length.filter(|min| text.chars().count() < *min) {
                return Err(format!(
                    "{path} must be longer than or equal to {min} characters"
                ));
            }
            if let Some((source, regex)) = &self.pattern
                && !regex.is_match(text)
            {
                return Err(format!("{path} must match pattern {source}"));
            }
            if let Some(word) = &self.not_word
                && (text.is_empty() || text == word)
            {
                return Err(format!("{path} must match pattern ^(?!{word}$).+$"));
            }
        }
        if let Some(items) = valu.as_array() {
            if let Some(min) = self.min_items.filter(|min| items.len() < *min) {
                return Err(format!("{path} must contain at least {min} items"));
            }
            if let Some(max) = self.max_items.filter(|max| items.len() > *max) {
                return Err(format!(
                    "{path} must contain less than or equal to {max} items"
                ));
            }
            for (indx, item) in items.iter().enumerate() {
                let schema = if self.tuple_items.is_empty() {
                    self.items.as_deref()
                } else {
                    self.tuple_items.get(indx)
                };
                if let Some(schema) = schema {
                    schema.validate(item, &format!("{path}[{indx}]"))?;
                }
            }
        }
        if let Some(items) = valu.as_object() {
            let missing: Vec<&String> = self
                .required
                .iter()
                .filter(|name| !items.contains_key(name.as_str()))
                .collect();
            if !missing.is_empty() {
                let names: Vec<String> = missing.iter().map(|n| format!("'{n}'")).collect();
                return Err(format!(
                    "{path} must contain [{}] properties",
                    names.join(", ")
                ));
            }
            for (name, schema) in &self.properties {
                if let Some(item) = items.get(name) {
                    schema.validate(item, &format!("{path}.{name}"))?;
                }
            }
            if self.closed {
                let extra: Vec<String> = items
                    .keys()
                    .filter(|key| !self.properties.iter().any(|(name, _)| name == *key))
                    .map(|key| format!("'{key}'"))
                    .collect();
                if !extra.is_empty() {
                    return Err(format!(
                        "{path} must not contain {{{}}} properties",
                        extra.join(", ")
                    ));
                }
            }
        }
        Ok(())
    }
}

fn fmt_num(num: f64) -> String {
    if num.fract() == 0.0 && num.abs() < 1e15 {
        format!("{}", num as i64)
    } else {
        format!("{num}")
    }
}

/// One configuration directive: name, schema, default, description and visibility flags.
#[derive(Debug, Clone)]
pub struct ConfDef {
    /// The key, e.g. `auth:passwd`.
    pub name: String,
    /// What it means (shown in `--help`).
    pub description: String,
    /// The accepted values.
    pub schema: Schema,
    /// The value used when no source sets it.
    pub default: Option<Json>,
    /// No command-line option for it.
    pub hidecmdl: bool,
    /// No command-line option and no environment variable for it.
    pub hideconf: bool,
    /// Left out of generated docs.
    pub hidedocs: bool,
}

impl ConfDef {
    /// A directive named `name` accepting `types`.
    pub fn new(name: &str, types: &[ConfType], description: &str) -> Self {
        Self {
            name: name.to_string(),
            description: description.to_string(),
            schema: Schema::of(types),
            default: None,
            hidecmdl: false,
            hideconf: false,
            hidedocs: false,
        }
    }

    /// Set the default value.
    #[must_use]
    pub fn default(mut self, valu: Json) -> Self {
        self.default = Some(valu);
        self
    }

    /// Replace the schema (keeps nothing of the types given to [`ConfDef::new`]).
    #[must_use]
    pub fn schema(mut self, schema: Schema) -> Self {
        self.schema = schema;
        self
    }

    /// Refine the schema in place.
    #[must_use]
    pub fn with_schema(mut self, func: impl FnOnce(Schema) -> Schema) -> Self {
        self.schema = func(self.schema);
        self
    }

    /// No command-line option.
    #[must_use]
    pub fn hidecmdl(mut self) -> Self {
        self.hidecmdl = true;
        self
    }

    /// No command-line option and no environment variable.
    #[must_use]
    pub fn hideconf(mut self) -> Self {
        self.hideconf = true;
        self
    }

    /// Not documented.
    #[must_use]
    pub fn hidedocs(mut self) -> Self {
        self.hidedocs = true;
        self
    }
}

/// How a command-line option's text is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// Taken as a string.
    Str,
    /// Parsed as an integer.
    Int,
    /// Parsed as a float.
    Float,
    /// Parsed as YAML and must be `True` or `False`.
    Bool,
}

/// A command-line option generated from a directive (`--auth-passwd` for `auth:passwd`).
#[derive(Debug, Clone)]
pub struct CmdlineOpt {
    /// The option name without dashes, e.g. `auth-passwd`.
    pub flag: String,
    /// The directive it sets.
    pub key: String,
    /// How to parse its value.
    pub kind: OptKind,
    /// Help text.
    pub help: String,
}

/// The environment-variable prefix of a cell type: `SYN_CELL`, `SYN_CORTEX` ... (the
/// reference's `getEnvPrefix`; its CryoCell uses `SYN_CRYOTANK`).
pub fn env_prefix(celltype: &str) -> String {
    match celltype {
        "cryocell" => "SYN_CRYOTANK".to_string(),
        _ => format!("SYN_{}", celltype.to_uppercase()),
    }
}

/// The environment variable of a key: `SYN_CELL_AUTH_PASSWD` for `auth:passwd`.
pub fn env_name(prefix: &str, key: &str) -> String {
    format!("{prefix}_{}", key.replace(':', "_")).to_uppercase()
}

/// Parse a scalar as the reference's YAML loader (PyYAML, YAML 1.1 booleans) does.
pub fn yaml_scalar(text: &str) -> Result<Json> {
    match text.trim() {
        "yes" | "Yes" | "YES" | "on" | "On" | "ON" => return Ok(Json::Bool(true)),
        "no" | "No" | "NO" | "off" | "Off" | "OFF" => return Ok(Json::Bool(false)),
        "~" | "" => return Ok(Json::Null),
        _ => {}
    }
    serde_yaml::from_str::<Json>(text)
        .map_err(|err| Error::new(ErrKind::BadConfValu, format!("invalid YAML value: {err}")))
}

/// Parse a command-line option value.
pub fn parse_opt(kind: OptKind, flag: &str, text: &str) -> Result<Json> {
    let bad = |what: &str| {
        Error::new(
            ErrKind::BadConfValu,
            format!("argument --{flag}: invalid {what} value: '{text}'"),
        )
        .with("name", flag)
    };
    match kind {
        OptKind::Str => Ok(Json::String(text.to_string())),
        OptKind::Int => text
            .trim()
            .parse::<i64>()
            .map(Json::from)
            .map_err(|_| bad("int")),
        OptKind::Float => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .ok_or_else(|| bad("float")),
        OptKind::Bool => match yaml_scalar(text) {
            Ok(Json::Bool(b)) => Ok(Json::Bool(b)),
            _ => Err(Error::new(
                ErrKind::BadConfValu,
                format!("argument --{flag}: invalid choice: '{text}' (choose from True, False)"),
            )
            .with("name", flag)),
        },
    }
}

/// The configuration of one cell: its schema and the values set from every source.
#[derive(Debug, Clone)]
pub struct Config {
    defs: Arc<Vec<ConfDef>>,
    prefix: String,
    values: BTreeMap<String, Json>,
}

impl Config {
    /// An empty configuration for `celltype` with the base directives and `service` ones.
    /// A service directive with the name of a base directive is ignored (the base one wins,
    /// as in the reference).
    pub fn new(celltype: &str, service: Vec<ConfDef>) -> Self {
        let mut defs = base_confdefs();
        for def in service {
            if !defs.iter().any(|d| d.name == def.name) {
                defs.push(def);
            }
        }
        Self {
            defs: Arc::new(defs),
            prefix: env_prefix(celltype),
            values: BTreeMap::new(),
        }
    }

    /// The directives.
    pub fn defs(&self) -> &[ConfDef] {
        &self.defs
    }

    /// One directive.
    pub fn def(&self, key: &str) -> Option<&ConfDef> {
        self.defs.iter().find(|d| d.name == key)
    }

    /// The environment-variable prefix (`SYN_CELL`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Check one key and value against the schema.
    pub fn check(&self, key: &str, valu: &Json) -> Result<()> {
        let Some(def) = self.def(key) else {
            return Err(
                Error::new(ErrKind::BadArg, format!("Key {key} is not a valid config"))
                    .with("name", key),
            );
        };
        def.schema.validate(valu, "data").map_err(|mesg| {
            Error::new(
                ErrKind::BadConfValu,
                format!("Invalid config for {key}, {mesg}"),
            )
            .with("name", key)
        })
    }

    /// Set `key` unless a value is already set (earlier sources win).
    pub fn set_default(&mut self, key: &str, valu: Json) -> Result<()> {
        if self.values.contains_key(key) {
            return Ok(());
        }
        self.check(key, &valu)?;
        self.values.insert(key.to_string(), valu);
        Ok(())
    }

    /// Set `key`, replacing any value.
    pub fn set(&mut self, key: &str, valu: Json) -> Result<()> {
        self.check(key, &valu)?;
        self.values.insert(key.to_string(), valu);
        Ok(())
    }

    /// Remove a value (its default comes back at the next [`Config::finish`]).
    pub fn pop(&mut self, key: &str) -> Option<Json> {
        self.values.remove(key)
    }

    /// Apply command-line values (`(key, value)` pairs already parsed with [`parse_opt`]).
    pub fn load_opts(&mut self, opts: Vec<(String, Json)>) -> Result<()> {
        for (key, valu) in opts {
            self.set_default(&key, valu)?;
        }
        Ok(())
    }

    /// Apply environment variables through `getenv` (values parsed as YAML).
    pub fn load_env(&mut self, getenv: impl Fn(&str) -> Option<String>) -> Result<()> {
        let pairs: Vec<(String, String)> = self
            .defs
            .iter()
            .filter(|def| !def.hideconf)
            .map(|def| (def.name.clone(), env_name(&self.prefix, &def.name)))
            .collect();
        for (key, envname) in pairs {
            let Some(text) = getenv(&envname) else {
                continue;
            };
            let valu = yaml_scalar(&text).map_err(|err| {
                Error::new(
                    ErrKind::BadConfValu,
                    format!(
                        "Invalid value in environment variable {envname}: {}",
                        err.mesg()
                    ),
                )
                .with("name", key.as_str())
            })?;
            if self.values.contains_key(&key) {
                if self.values.get(&key) != Some(&valu) {
                    tracing::warn!(envar = %envname, "config from envar skipped due to already being set");
                }
                continue;
            }
            self.set_default(&key, valu)?;
        }
        Ok(())
    }

    /// Apply a YAML file of `key: value` (missing file: nothing). With `force`, its values
    /// replace earlier ones (`cell.mods.yaml`).
    pub fn load_file(&mut self, path: &Path, force: bool) -> Result<()> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(Error::io("cannot read", path, err)),
        };
        let doc: Json = serde_yaml::from_str(&text).map_err(|err| {
            Error::new(
                ErrKind::BadConfValu,
                format!("Invalid YAML in {}: {err}", path.display()),
            )
        })?;
        let items = match doc {
            Json::Null => return Ok(()),
            Json::Object(items) => items,
            _ => {
                return Err(Error::new(
                    ErrKind::BadConfValu,
                    format!("{} must contain a map of directives", path.display()),
                ));
            }
        };
        for (key, valu) in items {
            let res = if force {
                self.set(&key, valu)
            } else {
                self.set_default(&key, valu)
            };
            res.map_err(|err| {
                let mesg = format!("{} (in {})", err.mesg(), path.display());
                Error::new(err.kind(), mesg).with("name", key.as_str())
            })?;
        }
        Ok(())
    }

    /// Validate everything and fill in defaults. The cell refuses to start on error.
    pub fn finish(&mut self) -> Result<()> {
        for (key, valu) in &self.values {
            self.check(key, valu).map_err(|err| {
                Error::new(
                    ErrKind::BadConfValu,
                    format!("Invalid configuration found: [{}]", err.mesg()),
                )
                .with("name", key.as_str())
            })?;
        }
        for def in self.defs.iter() {
            if let Some(default) = &def.default
                && !self.values.contains_key(&def.name)
            {
                self.values.insert(def.name.clone(), default.clone());
            }
        }
        Ok(())
    }

    /// A value (after [`Config::finish`], defaults included).
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.values.get(key)
    }

    /// True if `key` has a value (a `null` value counts).
    pub fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// A string value.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Json::as_str)
    }

    /// A boolean value (`false` if unset).
    pub fn get_bool(&self, key: &str) -> bool {
        self.get(key).and_then(Json::as_bool).unwrap_or(false)
    }

    /// An integer value.
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.get(key).and_then(Json::as_i64)
    }

    /// All values.
    pub fn values(&self) -> &BTreeMap<String, Json> {
        &self.values
    }

    /// The command-line options of this schema, as the reference's launcher makes them:
    /// single-typed string/integer/number/boolean directives without `hidecmdl`/`hideconf`;
    /// booleans only when they have a default.
    pub fn cmdline_opts(&self) -> Vec<CmdlineOpt> {
        let mut out = Vec::new();
        for def in self.defs.iter() {
            if def.hidecmdl || def.hideconf {
                continue;
            }
            let [typ] = def.schema.types() else { continue };
            let mut help = def.description.clone();
            let kind = match typ {
                ConfType::String => OptKind::Str,
                ConfType::Integer => OptKind::Int,
                ConfType::Number => OptKind::Float,
                ConfType::Boolean => {
                    let Some(default) = &def.default else {
                        continue;
                    };
                    let default = default.as_bool().unwrap_or(false);
                    help.push_str(&format!(
                        " This option defaults to {}.",
                        if default { "True" } else { "False" }
                    ));
                    OptKind::Bool
                }
                _ => continue,
            };
            out.push(CmdlineOpt {
                flag: def.name.replace(':', "-"),
                key: def.name.clone(),
                kind,
                help,
            });
        }
        out
    }
}

fn rules_schema() -> Schema {
    Schema::of(&[ConfType::Array]).items(
        Schema::of(&[ConfType::Array])
            .tuple_items(vec![
                Schema::of(&[ConfType::Boolean]),
                Schema::of(&[ConfType::Array]).items(Schema::of(&[ConfType::String])),
            ])
            .min_items(2)
            .max_items(2),
    )
}

/// The base cell's directives (the reference's `Cell.confbase`).
pub fn base_confdefs() -> Vec<ConfDef> {
    use ConfType::{Array, Boolean, Integer, Null, Object, String};
    let inaugural = Schema::of(&[Object])
        .property(
            "roles",
            Schema::of(&[Array]).items(
                Schema::of(&[Object])
                    .property("name", Schema::of(&[String]).not_word("all"))
                    .property("rules", rules_schema())
                    .required(&["name"])
                    .closed(),
            ),
        )
        .property(
            "users",
            Schema::of(&[Array]).items(
                Schema::of(&[Object])
                    .property("name", Schema::of(&[String]).not_word("root"))
                    .property("admin", Schema::of(&[Boolean]))
                    .property("email", Schema::of(&[String]))
                    .property("roles", Schema::of(&[Array]).items(Schema::of(&[String])))
                    .property("rules", rules_schema())
                    .required(&["name"])
                    .closed(),
            ),
        );
    vec![
        ConfDef::new("safemode", &[Boolean], "Boot the service in safe-mode.")
            .default(json!(false))
            .hidecmdl(),
        ConfDef::new(
            "cell:guid",
            &[String],
            "An optional hard-coded GUID to store as the permanent GUID for the service.",
        )
        .hideconf(),
        ConfDef::new(
            "cell:ctor",
            &[String],
            "An optional python path to the Cell class.  Used by stemcell.",
        )
        .hideconf(),
        ConfDef::new(
            "mirror",
            &[String, Null],
            "A telepath URL for our upstream mirror (we must be a backup!).",
        )
        .hidedocs()
        .hidecmdl(),
        ConfDef::new(
            "auth:passwd",
            &[String],
            "Set to <passwd> (local only) to bootstrap the root user password.",
        ),
        ConfDef::new(
            "auth:anon",
            &[String],
            "Allow anonymous telepath access by mapping to the given user name.",
        ),
        ConfDef::new(
            "auth:ctor",
            &[String],
            "Allow the construction of the cell auth object to be hooked at runtime.",
        )
        .hideconf(),
        ConfDef::new(
            "auth:conf",
            &[Object],
            "Extended configuration to be used by an alternate auth constructor.",
        )
        .hideconf(),
        ConfDef::new(
            "auth:passwd:policy",
            &[Object],
            "Specify password policy/complexity requirements.",
        )
        .schema(crate::auth::policy_schema()),
        ConfDef::new(
            "max:users",
            &[Integer],
            "Maximum number of users allowed on system, not including root or locked/archived users (0 is no limit).",
        )
        .default(json!(0))
        .with_schema(|s| s.minimum(0.0)),
        ConfDef::new(
            "nexslog:en",
            &[Boolean],
            "Record all changes to a stream file on disk.  Required for mirroring (on both sides).",
        )
        .default(json!(false)),
        ConfDef::new("nexslog:async", &[Boolean], "Deprecated. This option ignored.")
            .default(json!(true))
            .hidedocs()
            .hidecmdl(),
        ConfDef::new(
            "dmon:listen",
            &[String, Null],
            "A config-driven way to specify the telepath bind URL.",
        ),
        ConfDef::new(
            "https:port",
            &[Integer, Null],
            "A config-driven way to specify the HTTPS port.",
        ),
        ConfDef::new(
            "https:headers",
            &[Object],
            "Headers to add to all HTTPS server responses.",
        )
        .hidecmdl(),
        ConfDef::new(
            "https:parse:proxy:remoteip",
            &[Boolean],
            "Enable the HTTPS server to parse X-Forwarded-For and X-Real-IP headers to determine requester IP addresses.",
        )
        .default(json!(false)),
        ConfDef::new(
            "backup:dir",
            &[String],
            "A directory outside the service directory where backups will be saved. Defaults to ./backups in the service storage directory.",
        ),
        ConfDef::new(
            "onboot:optimize",
            &[Boolean],
            "Delay startup to optimize LMDB databases during boot to recover free space and increase performance. This may take a while.",
        )
        .default(json!(false)),
        ConfDef::new(
            "limit:disk:free",
            &[Integer, Null],
            "Minimum disk free space percentage before setting the cell read-only.",
        )
        .default(json!(5))
        .with_schema(|s| s.minimum(0.0).maximum(100.0)),
        ConfDef::new(
            "health:sysctl:checks",
            &[Boolean],
            "Enable sysctl parameter checks and warn if values are not optimal.",
        )
        .default(json!(true)),
        ConfDef::new(
            "aha:name",
            &[String],
            "The name of the cell service in the aha service registry.",
        ),
        ConfDef::new(
            "aha:user",
            &[String],
            "The username of this service when connecting to others.",
        ),
        ConfDef::new(
            "aha:promotable",
            &[Boolean],
            "Set to false to exclude this service from automatic leader selection when the leader demotes, including during a graceful shutdown. It does not prevent an explicit promotion.",
        )
        .default(json!(true)),
        ConfDef::new(
            "aha:leader",
            &[String],
            "The AHA service name to claim as the active instance of a storm service.",
        ),
        ConfDef::new("aha:network", &[String], "The AHA service network."),
        ConfDef::new(
            "aha:registry",
            &[String, Array],
            "The telepath URL of the aha service registry.",
        )
        .with_schema(|s| s.items(Schema::of(&[String]))),
        ConfDef::new(
            "aha:provision",
            &[String, Array],
            "The telepath URL of the aha provisioning service.",
        )
        .with_schema(|s| s.items(Schema::of(&[String]))),
        ConfDef::new(
            "aha:admin",
            &[String],
            "An AHA client certificate CN to register as a local admin user.",
        ),
        ConfDef::new(
            "aha:svcinfo",
            &[Object],
            "An AHA svcinfo object. If set, this overrides self discovered Aha service information.",
        )
        .with_schema(|s| {
            s.property(
                "urlinfo",
                Schema::of(&[Object])
                    .property("host", Schema::of(&[String]))
                    .property("port", Schema::of(&[Integer]))
                    .property("schema", Schema::of(&[String]))
                    .required(&["host", "port", "scheme"]),
            )
            .required(&["urlinfo"])
        })
        .hidedocs()
        .hidecmdl(),
        ConfDef::new(
            "inaugural",
            &[Object],
            "Data used to drive configuration of the service upon first startup.",
        )
        .schema(inaugural)
        .hidedocs(),
        ConfDef::new(
            "_log_conf",
            &[Object],
            "Opaque structure used for logging by spawned processes.",
        )
        .hideconf(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf() -> Config {
        Config::new("cell", vec![])
    }

    #[test]
    fn earlier_sources_win_and_mods_override() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cell.yaml"),
            "auth:passwd: fromfile\nauth:anon: anon\nmax:users: 3\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("cell.mods.yaml"), "max:users: 7\n").unwrap();
        let mut conf = conf();
        conf.load_opts(vec![("auth:passwd".into(), json!("fromargv"))])
            .unwrap();
        conf.load_env(|name| match name {
            "SYN_CELL_AUTH_PASSWD" => Some("fromenv".into()),
            "SYN_CELL_HTTPS_PORT" => Some("1234".into()),
            "SYN_CELL_NEXSLOG_EN" => Some("true".into()),
            "SYN_CELL_DMON_LISTEN" => Some("null".into()),
            _ => None,
        })
        .unwrap();
        conf.load_file(&dir.path().join("cell.yaml"), false)
            .unwrap();
        conf.load_file(&dir.path().join("cell.mods.yaml"), true)
            .unwrap();
        conf.finish().unwrap();
        assert_eq!(conf.get_str("auth:passwd"), Some("fromargv"));
        assert_eq!(conf.get_str("auth:anon"), Some("anon"));
        assert_eq!(conf.get_i64("https:port"), Some(1234));
        assert!(conf.get_bool("nexslog:en"));
        assert!(conf.contains("dmon:listen"));
        assert_eq!(conf.get("dmon:listen"), Some(&Json::Null));
        assert_eq!(conf.get_i64("max:users"), Some(7));
        // defaults filled in
        assert_eq!(conf.get_i64("limit:disk:free"), Some(5));
        assert!(!conf.contains("auth:ctor"));
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cell.yaml");
        std::fs::write(&path, "auth:passwdd: x\n").unwrap();
        let err = conf().load_file(&path, false).unwrap_err();
        assert_eq!(err.kind(), ErrKind::BadArg);
        assert!(err.mesg().contains("auth:passwdd"), "{}", err.mesg());

        std::fs::write(&path, "max:users: -1\n").unwrap();
        let err = conf().load_file(&path, false).unwrap_err();
        assert_eq!(err.kind(), ErrKind::BadConfValu);
        assert!(
            err.mesg().starts_with(
                "Invalid config for max:users, data must be bigger than or equal to 0"
            ),
            "{}",
            err.mesg()
        );

        std::fs::write(&path, "https:port: nope\n").unwrap();
        let err = conf().load_file(&path, false).unwrap_err();
        assert!(
            err.mesg()
                .contains("https:port, data must be integer or null"),
            "{}",
            err.mesg()
        );

        std::fs::write(&path, "- a\n- b\n").unwrap();
        assert!(conf().load_file(&path, false).is_err());

        let err = conf()
            .load_env(|name| (name == "SYN_CELL_LIMIT_DISK_FREE").then(|| "101".into()))
            .unwrap_err();
        assert!(err.mesg().contains("limit:disk:free"), "{}", err.mesg());
    }

    #[test]
    fn service_directives_extend_the_schema() {
        let mut conf = Config::new(
            "axon",
            vec![
                ConfDef::new("max:bytes", &[ConfType::Integer], "Max bytes.")
                    .with_schema(|s| s.minimum(1.0))
                    .hidecmdl(),
                ConfDef::new("http:proxy", &[ConfType::String], "Proxy."),
            ],
        );
        conf.set_default("max:bytes", json!(10)).unwrap();
        assert!(conf.set_default("max:count", json!(10)).is_err());
        assert!(conf.check("max:bytes", &json!(0)).is_err());
        let flags: Vec<String> = conf.cmdline_opts().into_iter().map(|o| o.flag).collect();
        assert!(flags.contains(&"http-proxy".to_string()));
        assert!(!flags.contains(&"max-bytes".to_string()));
        assert_eq!(conf.prefix(), "SYN_AXON");
    }

    #[test]
    fn cmdline_options_match_the_reference() {
        let flags: Vec<String> = conf().cmdline_opts().into_iter().map(|o| o.flag).collect();
        assert_eq!(
            flags,
            [
                "auth-passwd",
                "auth-anon",
                "max-users",
                "nexslog-en",
                "https-parse-proxy-remoteip",
                "backup-dir",
                "onboot-optimize",
                "health-sysctl-checks",
                "aha-name",
                "aha-user",
                "aha-promotable",
                "aha-leader",
                "aha-network",
                "aha-admin",
            ]
        );
        assert_eq!(
            parse_opt(OptKind::Bool, "nexslog-en", "True").unwrap(),
            json!(true)
        );
        assert!(parse_opt(OptKind::Bool, "nexslog-en", "maybe").is_err());
        assert!(parse_opt(OptKind::Int, "max-users", "x").is_err());
    }

    #[test]
    fn inaugural_names_are_checked() {
        let conf = conf();
        let good = json!({"roles": [{"name": "analysts", "rules": [[true, ["node"]]]}],
                          "users": [{"name": "visi", "admin": true, "roles": ["analysts"]}]});
        conf.check("inaugural", &good).unwrap();
        assert!(
            conf.check("inaugural", &json!({"roles": [{"name": "all"}]}))
                .is_err()
        );
        assert!(
            conf.check("inaugural", &json!({"users": [{"name": "root"}]}))
                .is_err()
        );
        conf.check(
            "inaugural",
            &json!({"users": [{"name": "roots"}, {"name": "ro"}]}),
        )
        .unwrap();
        conf.check(
            "inaugural",
            &json!({"roles": [{"name": "al"}, {"name": "alle"}]}),
        )
        .unwrap();
        let err = conf
            .check("inaugural", &json!({"users": [{"name": "x", "bad": 1}]}))
            .unwrap_err();
        assert!(err.mesg().contains("must not contain"), "{}", err.mesg());
        let err = conf
            .check(
                "inaugural",
                &json!({"users": [{"name": "x", "rules": [[true]]}]}),
            )
            .unwrap_err();
        assert!(err.mesg().contains("at least 2 items"), "{}", err.mesg());
    }

    #[test]
    fn yaml_scalars_follow_pyyaml() {
        assert_eq!(yaml_scalar("1234").unwrap(), json!(1234));
        assert_eq!(yaml_scalar("yes").unwrap(), json!(true));
        assert_eq!(yaml_scalar("null").unwrap(), Json::Null);
        assert_eq!(yaml_scalar("root").unwrap(), json!("root"));
        assert_eq!(
            yaml_scalar("tcp://0.0.0.0:1").unwrap(),
            json!("tcp://0.0.0.0:1")
        );
    }
}
