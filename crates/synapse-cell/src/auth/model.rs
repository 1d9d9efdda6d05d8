//! Auth records: rules, users, roles, gates and API keys, with their stored and packed shapes.

use std::collections::BTreeMap;

use rmpv::Value;

use crate::error::{ErrKind, Error, Result};
use crate::passwd::{Shadow, StoredPasswd};
use crate::value::{map, map_get, opt_str};

/// A rule: allow or deny a permission path and everything below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Allow (`true`) or deny.
    pub allow: bool,
    /// The permission path, e.g. `["node", "add"]`.
    pub path: Vec<String>,
}

impl Rule {
    /// A rule from string parts.
    pub fn new(allow: bool, path: &[&str]) -> Self {
        Self {
            allow,
            path: path.iter().map(|p| p.to_string()).collect(),
        }
    }

    /// True if the rule's path is a prefix of `perm`.
    pub fn matches(&self, perm: &[String]) -> bool {
        perm.len() >= self.path.len() && perm[..self.path.len()] == self.path[..]
    }

    /// `[allow, [path...]]`.
    pub fn to_value(&self) -> Value {
        Value::Array(vec![
            Value::Boolean(self.allow),
            Value::Array(self.path.iter().map(|p| Value::from(p.as_str())).collect()),
        ])
    }

    /// The rule as text: `node.add` or `!node.add`.
    pub fn text(&self) -> String {
        let text = self.path.join(".");
        if self.allow { text } else { format!("!{text}") }
    }

    fn parse_at(valu: &Value, path: &str) -> Result<Self> {
        let viol = |mesg: String| Error::new(ErrKind::SchemaViolation, mesg).with("name", path);
        let Value::Array(items) = valu else {
            return Err(viol(format!("{path} must be array")));
        };
        if items.len() < 2 {
            return Err(viol(format!("{path} must contain at least 2 items")));
        }
        if items.len() > 2 {
            return Err(viol(format!(
                "{path} must contain less than or equal to 2 items"
            )));
        }
        let Value::Boolean(allow) = items[0] else {
            return Err(viol(format!("{path}[0] must be boolean")));
        };
        let Value::Array(parts) = &items[1] else {
            return Err(viol(format!("{path}[1] must be array")));
        };
        if parts.is_empty() {
            return Err(viol(format!("{path}[1] must contain at least 1 items")));
        }
        let mut out = Vec::with_capacity(parts.len());
        for (indx, part) in parts.iter().enumerate() {
            match part.as_str() {
                Some("") => {
                    return Err(viol(format!(
                        "{path}[1][{indx}] must be longer than or equal to 1 characters"
                    )));
                }
                Some(text) => out.push(text.to_string()),
                None => return Err(viol(format!("{path}[1][{indx}] must be string"))),
            }
        }
        Ok(Self { allow, path: out })
    }

    /// Validate and parse one rule (as the reference validates `(rule,)`).
    pub fn parse(valu: &Value) -> Result<Self> {
        Self::parse_at(valu, "data[0]")
    }

    /// Validate and parse a list of rules.
    pub fn parse_list(valu: &Value) -> Result<Vec<Self>> {
        let Value::Array(items) = valu else {
            return Err(
                Error::new(ErrKind::SchemaViolation, "data must be array").with("name", "data")
            );
        };
        items
            .iter()
            .enumerate()
            .map(|(indx, item)| Self::parse_at(item, &format!("data[{indx}]")))
            .collect()
    }

    fn list_value(rules: &[Rule]) -> Value {
        Value::Array(rules.iter().map(Rule::to_value).collect())
    }

    fn from_stored(valu: Option<&Value>) -> Vec<Rule> {
        match valu {
            Some(Value::Array(items)) => items.iter().filter_map(|r| Rule::parse(r).ok()).collect(),
            _ => Vec::new(),
        }
    }
}

/// A user's or role's entry on an auth gate: its own rules and admin flag (only the keys that
/// were ever set are present).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateEntry {
    /// Rules on the gate.
    pub rules: Option<Vec<Rule>>,
    /// Admin of the gate.
    pub admin: Option<bool>,
}

impl GateEntry {
    /// Rules (empty if none).
    pub fn rules(&self) -> &[Rule] {
        self.rules.as_deref().unwrap_or(&[])
    }

    /// Admin flag (false if unset).
    pub fn is_admin(&self) -> bool {
        self.admin.unwrap_or(false)
    }

    /// The stored shape: `{"rules": [...], "admin": bool}` with only the set keys.
    pub fn to_value(&self) -> Value {
        let mut items = Vec::new();
        if let Some(rules) = &self.rules {
            items.push((Value::from("rules"), Rule::list_value(rules)));
        }
        if let Some(admin) = self.admin {
            items.push((Value::from("admin"), Value::Boolean(admin)));
        }
        Value::Map(items)
    }

    pub(crate) fn from_value(valu: &Value) -> Self {
        Self {
            rules: map_get(valu, "rules").map(|r| Rule::from_stored(Some(r))),
            admin: map_get(valu, "admin").and_then(Value::as_bool),
        }
    }
}

/// How a user's `roles` are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackRoles {
    /// Role idens (HTTP, `getAuthUsers`, `getCellUser`).
    Idens,
    /// Full role defs (`addUser`, `getUserDef`, `getUserDefs`).
    Defs,
    /// Role names (`getUserInfo`, `getAuthInfo`).
    Names,
}

/// A one-time password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Onepass {
    pub(crate) create: i64,
    pub(crate) expires: i64,
    pub(crate) shadow: Shadow,
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UserDef {
    /// The user's iden.
    pub iden: String,
    /// The user's name.
    pub name: String,
    /// Global admin (may be unset on old records).
    pub admin: Option<bool>,
    /// Role idens, in order.
    pub roles: Vec<String>,
    /// Rules, in order.
    pub rules: Vec<Rule>,
    /// Locked out.
    pub locked: Option<bool>,
    /// Archived (hidden, and locked).
    pub archived: Option<bool>,
    /// Normalized email.
    pub email: Option<String>,
    /// Per-gate entries, in insertion order.
    pub authgates: Vec<(String, GateEntry)>,
    pub(crate) passwd: Option<StoredPasswd>,
    pub(crate) onepass: Option<Onepass>,
    pub(crate) attempts: i64,
    pub(crate) previous: Vec<Shadow>,
    pub(crate) extra: Vec<(Value, Value)>,
}

impl UserDef {
    pub(crate) fn new(iden: &str, name: &str) -> Self {
        Self {
            iden: iden.to_string(),
            name: name.to_string(),
            admin: Some(false),
            roles: Vec::new(),
            rules: Vec::new(),
            locked: Some(false),
            archived: Some(false),
            email: None,
            authgates: Vec::new(),
            passwd: None,
            onepass: None,
            attempts: 0,
            previous: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Global admin.
    pub fn is_admin(&self) -> bool {
        self.admin.unwrap_or(false)
    }

    /// Admin globally or of `gate`.
    pub fn is_admin_of(&self, gate: Option<&str>) -> bool {
        if self.is_admin() {
            return true;
        }
        gate.and_then(|g| self.gate(g))
            .is_some_and(GateEntry::is_admin)
    }

    /// Locked.
    pub fn is_locked(&self) -> bool {
        self.locked.unwrap_or(false)
    }

    /// Archived.
    pub fn is_archived(&self) -> bool {
        self.archived.unwrap_or(false)
    }

    /// True if a password is set.
    pub fn has_passwd(&self) -> bool {
        self.passwd.is_some()
    }

    /// The entry on one gate.
    pub fn gate(&self, gate: &str) -> Option<&GateEntry> {
        self.authgates
            .iter()
            .find(|(g, _)| g == gate)
            .map(|(_, e)| e)
    }

    pub(crate) fn gate_mut(&mut self, gate: &str) -> &mut GateEntry {
        if let Some(indx) = self.authgates.iter().position(|(g, _)| g == gate) {
            &mut self.authgates[indx].1
        } else {
            self.authgates
                .push((gate.to_string(), GateEntry::default()));
            let last = self.authgates.len() - 1;
            &mut self.authgates[last].1
        }
    }

    pub(crate) fn authgates_value(&self) -> Value {
        Value::Map(
            self.authgates
                .iter()
                .map(|(g, e)| (Value::from(g.as_str()), e.to_value()))
                .collect(),
        )
    }

    /// The stored record (`user:info:<iden>`).
    pub(crate) fn to_info(&self) -> Value {
        let opt_bool = |b: Option<bool>| b.map_or(Value::Nil, Value::Boolean);
        let mut items = vec![
            (Value::from("iden"), Value::from(self.iden.as_str())),
            (Value::from("name"), Value::from(self.name.as_str())),
            (Value::from("admin"), opt_bool(self.admin)),
            (
                Value::from("roles"),
                Value::Array(self.roles.iter().map(|r| Value::from(r.as_str())).collect()),
            ),
            (Value::from("rules"), Rule::list_value(&self.rules)),
            (
                Value::from("passwd"),
                self.passwd
                    .as_ref()
                    .map_or(Value::Nil, StoredPasswd::to_value),
            ),
            (Value::from("locked"), opt_bool(self.locked)),
            (Value::from("archived"), opt_bool(self.archived)),
            (Value::from("authgates"), self.authgates_value()),
        ];
        if let Some(email) = &self.email {
            items.push((Value::from("email"), Value::from(email.as_str())));
        }
        if let Some(onepass) = &self.onepass {
            items.push((
                Value::from("onepass"),
                map([
                    ("create", Value::from(onepass.create)),
                    ("expires", Value::from(onepass.expires)),
                    ("shadow", onepass.shadow.to_value()),
                ]),
            ));
        }
        if self.attempts != 0 {
            items.push((Value::from("policy:attempts"), Value::from(self.attempts)));
        }
        if !self.previous.is_empty() {
            items.push((
                Value::from("policy:previous"),
                Value::Array(self.previous.iter().map(Shadow::to_value).collect()),
            ));
        }
        items.extend(self.extra.iter().cloned());
        Value::Map(items)
    }

    pub(crate) fn from_info(valu: &Value) -> Result<Self> {
        let Value::Map(items) = valu else {
            return Err(Error::new(
                ErrKind::InconsistentStorage,
                "user info is not a map",
            ));
        };
        let iden = map_get(valu, "iden")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::new(ErrKind::InconsistentStorage, "user info has no iden"))?;
        let name = map_get(valu, "name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut user = UserDef::new(iden, name);
        user.admin = map_get(valu, "admin").and_then(Value::as_bool);
        user.locked = map_get(valu, "locked").and_then(Value::as_bool);
        user.archived = map_get(valu, "archived").and_then(Value::as_bool);
        user.email = map_get(valu, "email")
            .and_then(Value::as_str)
            .map(str::to_string);
        user.roles = match map_get(valu, "roles") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        };
        user.rules = Rule::from_stored(map_get(valu, "rules"));
        if let Some(Value::Map(gates)) = map_get(valu, "authgates") {
            user.authgates = gates
                .iter()
                .filter_map(|(g, e)| {
                    g.as_str()
                        .map(|g| (g.to_string(), GateEntry::from_value(e)))
                })
                .collect();
        }
        user.passwd = match map_get(valu, "passwd") {
            Some(stored) => StoredPasswd::from_value(stored).unwrap_or(None),
            None => None,
        };
        user.onepass = map_get(valu, "onepass").and_then(|o| {
            Some(Onepass {
                create: map_get(o, "create").and_then(Value::as_i64).unwrap_or(0),
                expires: map_get(o, "expires").and_then(Value::as_i64)?,
                shadow: Shadow::from_value(map_get(o, "shadow")?).ok()?,
            })
        });
        user.attempts = map_get(valu, "policy:attempts")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if let Some(Value::Array(prev)) = map_get(valu, "policy:previous") {
            user.previous = prev
                .iter()
                .filter_map(|s| Shadow::from_value(s).ok())
                .collect();
        }
        const KNOWN: [&str; 13] = [
            "iden",
            "name",
            "admin",
            "roles",
            "rules",
            "passwd",
            "locked",
            "archived",
            "authgates",
            "email",
            "onepass",
            "policy:attempts",
            "policy:previous",
        ];
        user.extra = items
            .iter()
            .filter(|(k, _)| !k.as_str().is_some_and(|k| KNOWN.contains(&k)))
            .cloned()
            .collect();
        Ok(user)
    }

    /// The packed user def (roles given by the caller in the wanted form).
    pub(crate) fn pack_with(&self, roles: Value) -> Value {
        let opt_bool = |b: Option<bool>| b.map_or(Value::Nil, Value::Boolean);
        map([
            ("type", Value::from("user")),
            ("iden", Value::from(self.iden.as_str())),
            ("name", Value::from(self.name.as_str())),
            ("rules", Rule::list_value(&self.rules)),
            ("roles", roles),
            ("admin", opt_bool(self.admin)),
            ("email", opt_str(self.email.as_deref())),
            ("locked", opt_bool(self.locked)),
            ("archived", opt_bool(self.archived)),
            ("authgates", self.authgates_value()),
        ])
    }
}

/// A role as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleDef {
    /// The role's iden.
    pub iden: String,
    /// The role's name.
    pub name: String,
    /// Rules, in order.
    pub rules: Vec<Rule>,
    /// Per-gate entries, in insertion order.
    pub authgates: Vec<(String, GateEntry)>,
    pub(crate) extra: Vec<(Value, Value)>,
}

impl RoleDef {
    pub(crate) fn new(iden: &str, name: &str) -> Self {
        Self {
            iden: iden.to_string(),
            name: name.to_string(),
            rules: Vec::new(),
            authgates: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// The entry on one gate.
    pub fn gate(&self, gate: &str) -> Option<&GateEntry> {
        self.authgates
            .iter()
            .find(|(g, _)| g == gate)
            .map(|(_, e)| e)
    }

    pub(crate) fn gate_mut(&mut self, gate: &str) -> &mut GateEntry {
        if let Some(indx) = self.authgates.iter().position(|(g, _)| g == gate) {
            &mut self.authgates[indx].1
        } else {
            self.authgates
                .push((gate.to_string(), GateEntry::default()));
            let last = self.authgates.len() - 1;
            &mut self.authgates[last].1
        }
    }

    fn authgates_value(&self) -> Value {
        Value::Map(
            self.authgates
                .iter()
                .map(|(g, e)| (Value::from(g.as_str()), e.to_value()))
                .collect(),
        )
    }

    /// The packed role def: `{"type": "role", "iden", "name", "rules", "authgates"}`.
    pub fn pack(&self) -> Value {
        map([
            ("type", Value::from("role")),
            ("iden", Value::from(self.iden.as_str())),
            ("name", Value::from(self.name.as_str())),
            ("rules", Rule::list_value(&self.rules)),
            ("authgates", self.authgates_value()),
        ])
    }

    pub(crate) fn to_info(&self) -> Value {
        let mut items = vec![
            (Value::from("iden"), Value::from(self.iden.as_str())),
            (Value::from("name"), Value::from(self.name.as_str())),
            (Value::from("admin"), Value::Boolean(false)),
            (Value::from("rules"), Rule::list_value(&self.rules)),
            (Value::from("authgates"), self.authgates_value()),
        ];
        items.extend(self.extra.iter().cloned());
        Value::Map(items)
    }

    pub(crate) fn from_info(valu: &Value) -> Result<Self> {
        let Value::Map(items) = valu else {
            return Err(Error::new(
                ErrKind::InconsistentStorage,
                "role info is not a map",
            ));
        };
        let iden = map_get(valu, "iden")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::new(ErrKind::InconsistentStorage, "role info has no iden"))?;
        let name = map_get(valu, "name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut role = RoleDef::new(iden, name);
        role.rules = Rule::from_stored(map_get(valu, "rules"));
        if let Some(Value::Map(gates)) = map_get(valu, "authgates") {
            role.authgates = gates
                .iter()
                .filter_map(|(g, e)| {
                    g.as_str()
                        .map(|g| (g.to_string(), GateEntry::from_value(e)))
                })
                .collect();
        }
        const KNOWN: [&str; 5] = ["iden", "name", "admin", "rules", "authgates"];
        role.extra = items
            .iter()
            .filter(|(k, _)| !k.as_str().is_some_and(|k| KNOWN.contains(&k)))
            .cloned()
            .collect();
        Ok(role)
    }
}

/// An auth gate: a per-object permission scope (a Cortex view, layer, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct GateDef {
    /// The gated object's iden.
    pub iden: String,
    /// Its type, e.g. `view`.
    pub typ: String,
    /// User entries, in insertion order.
    pub users: Vec<(String, GateEntry)>,
    /// Role entries, in insertion order.
    pub roles: Vec<(String, GateEntry)>,
}

impl GateDef {
    /// `{"iden", "type", "users": [{"iden", "rules", "admin"}], "roles": [...]}`.
    pub fn pack(&self) -> Value {
        let entries = |list: &[(String, GateEntry)]| {
            Value::Array(
                list.iter()
                    .map(|(iden, entry)| {
                        map([
                            ("iden", Value::from(iden.as_str())),
                            ("rules", Rule::list_value(entry.rules())),
                            ("admin", Value::Boolean(entry.is_admin())),
                        ])
                    })
                    .collect(),
            )
        };
        map([
            ("iden", Value::from(self.iden.as_str())),
            ("type", Value::from(self.typ.as_str())),
            ("users", entries(&self.users)),
            ("roles", entries(&self.roles)),
        ])
    }

    pub(crate) fn set_entry(list: &mut Vec<(String, GateEntry)>, iden: &str, entry: GateEntry) {
        if let Some(slot) = list.iter_mut().find(|(i, _)| i == iden) {
            slot.1 = entry;
        } else {
            list.push((iden.to_string(), entry));
        }
    }
}

/// An HTTP API key's metadata (`kdef`); the secret is only kept as a shadow.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyDef {
    /// The key iden.
    pub iden: String,
    /// Its name.
    pub name: String,
    /// The owning user's iden.
    pub user: String,
    /// Creation time (epoch ms).
    pub created: i64,
    /// Last change (epoch ms).
    pub updated: i64,
    /// Expiry (epoch ms), if any.
    pub expires: Option<i64>,
    pub(crate) shadow: Shadow,
}

impl ApiKeyDef {
    /// The public shape: `{"iden", "name", "user", "created", "updated"[, "expires"]}`.
    pub fn pack(&self) -> Value {
        let mut items = vec![
            (Value::from("iden"), Value::from(self.iden.as_str())),
            (Value::from("name"), Value::from(self.name.as_str())),
            (Value::from("user"), Value::from(self.user.as_str())),
            (Value::from("created"), Value::from(self.created)),
            (Value::from("updated"), Value::from(self.updated)),
        ];
        if let Some(expires) = self.expires {
            items.push((Value::from("expires"), Value::from(expires)));
        }
        Value::Map(items)
    }

    pub(crate) fn to_stored(&self) -> Value {
        let Value::Map(mut items) = self.pack() else {
            return Value::Nil;
        };
        items.push((Value::from("shadow"), self.shadow.to_value()));
        Value::Map(items)
    }

    pub(crate) fn from_stored(valu: &Value) -> Option<Self> {
        Some(Self {
            iden: map_get(valu, "iden")?.as_str()?.to_string(),
            name: map_get(valu, "name")?.as_str()?.to_string(),
            user: map_get(valu, "user")?.as_str()?.to_string(),
            created: map_get(valu, "created")?.as_i64()?,
            updated: map_get(valu, "updated")?.as_i64()?,
            expires: map_get(valu, "expires").and_then(Value::as_i64),
            shadow: Shadow::from_value(map_get(valu, "shadow")?).ok()?,
        })
    }
}

/// A user's profile or vars: name → value.
pub type KeyVals = BTreeMap<String, Value>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_by_prefix() {
        let rule = Rule::new(true, &["node", "add"]);
        let perm = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(rule.matches(&perm(&["node", "add"])));
        assert!(rule.matches(&perm(&["node", "add", "inet:fqdn"])));
        assert!(!rule.matches(&perm(&["node"])));
        assert!(!rule.matches(&perm(&["node", "del"])));
        assert_eq!(rule.text(), "node.add");
        assert_eq!(Rule::new(false, &["a"]).text(), "!a");
    }

    #[test]
    fn rule_validation_messages() {
        let bad = Value::Array(vec![Value::Boolean(true), Value::Array(vec![])]);
        let err = Rule::parse(&bad).unwrap_err();
        assert_eq!(err.kind(), ErrKind::SchemaViolation);
        assert_eq!(err.mesg(), "data[0][1] must contain at least 1 items");
        let bad = Value::Array(vec![Value::from("x"), Value::Array(vec![Value::from("a")])]);
        assert_eq!(
            Rule::parse(&bad).unwrap_err().mesg(),
            "data[0][0] must be boolean"
        );
        let good = Rule::new(false, &["a", "b"]).to_value();
        assert_eq!(Rule::parse(&good).unwrap(), Rule::new(false, &["a", "b"]));
    }

    #[test]
    fn user_info_roundtrips_with_unknown_keys() {
        let mut user = UserDef::new("a".repeat(32).as_str(), "visi");
        user.rules.push(Rule::new(true, &["x"]));
        user.gate_mut("g1").rules = Some(vec![Rule::new(false, &["y"])]);
        user.email = Some("v@vertex.link".into());
        let Value::Map(mut items) = user.to_info() else {
            panic!()
        };
        items.push((Value::from("future"), Value::from(1)));
        let back = UserDef::from_info(&Value::Map(items)).unwrap();
        assert_eq!(back.rules, user.rules);
        assert_eq!(back.authgates, user.authgates);
        assert_eq!(back.email, user.email);
        assert_eq!(back.extra, vec![(Value::from("future"), Value::from(1))]);
    }
}
