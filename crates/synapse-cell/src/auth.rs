//! Auth: users, roles, rules, auth gates, passwords, one-time passwords and API keys.
//!
//! Everything lives in memory as an immutable snapshot that is swapped on every change; changes
//! are serialized, written to the [`Store`] first (DB `auth` with the reference's key layout)
//! and then published. Permission checks read the current snapshot and never wait.
//!
//! Check order of [`Auth::allowed`] (first match wins), as the reference:
//! 1. locked user → `false`; 2. global admin → `true`;
//! 3. with a gate: the user's admin flag on it → `true`, else the user's gate rules;
//! 4. the user's rules; 5. with a gate: each role's gate rules; 6. each role's rules;
//! 7. the default.

mod model;
mod policy;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use rmpv::Value;
use tokio::sync::broadcast;

pub use self::model::{ApiKeyDef, GateDef, GateEntry, KeyVals, PackRoles, RoleDef, Rule, UserDef};
pub use self::policy::{Policy, policy_schema};

use self::model::Onepass;
use self::policy::policy_error;
use crate::error::{ErrKind, Error, Result};
use crate::passwd::{self, StoredPasswd};
use crate::store::{Store, StoreOp};
use crate::util::pyrepr;
use crate::value::{decode, encode, guid_of, is_guid};

/// A user snapshot.
pub type User = Arc<UserDef>;
/// A role snapshot.
pub type Role = Arc<RoleDef>;

const DB: &str = "auth";
const DB_APIKEYS: &str = "user:apikeys";
const DB_USERMETA: &str = "user:meta";

/// A change other parts of the cell react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthEvent {
    /// A user was locked or unlocked.
    UserLocked {
        /// The user.
        iden: String,
        /// The new state.
        locked: bool,
    },
    /// A user was deleted.
    UserDeleted {
        /// The user.
        iden: String,
    },
    /// Anything changed (name of the change and the user/role iden).
    Changed {
        /// E.g. `user:info`, `role:add`.
        event: String,
        /// The user or role iden.
        iden: String,
    },
}

#[derive(Clone, Default)]
struct State {
    users: HashMap<String, User>,
    user_names: BTreeMap<String, String>,
    user_emails: HashMap<String, String>,
    roles: HashMap<String, Role>,
    role_names: BTreeMap<String, String>,
    gates: BTreeMap<String, Arc<GateDef>>,
    profiles: HashMap<String, Arc<KeyVals>>,
    vars: HashMap<String, Arc<KeyVals>>,
    apikeys: BTreeMap<String, Arc<ApiKeyDef>>,
    root: String,
    allrole: String,
}

fn key(parts: &[&str]) -> Vec<u8> {
    parts.concat().into_bytes()
}

fn uhex(iden: &str) -> Vec<u8> {
    hex::decode(iden).unwrap_or_else(|_| iden.as_bytes().to_vec())
}

impl State {
    fn user(&self, iden: &str) -> Result<User> {
        self.users.get(iden).cloned().ok_or_else(|| {
            Error::new(ErrKind::NoSuchUser, format!("No user with iden {iden}.")).with("user", iden)
        })
    }

    fn role(&self, iden: &str) -> Result<Role> {
        self.roles
            .get(iden)
            .cloned()
            .ok_or_else(|| Error::new(ErrKind::NoSuchRole, format!("No role with iden {iden}.")))
    }

    fn gate(&self, iden: &str) -> Result<Arc<GateDef>> {
        self.gates.get(iden).cloned().ok_or_else(|| {
            Error::new(
                ErrKind::NoSuchAuthGate,
                format!("No auth gate found with iden: ({iden})."),
            )
            .with("iden", iden)
        })
    }

    fn req_no_gate(&self, iden: &str) -> Result<()> {
        if self.gates.contains_key(iden) {
            return Err(Error::new(
                ErrKind::DupIden,
                format!("An auth gate already exists with iden: ({iden})."),
            )
            .with("iden", iden));
        }
        Ok(())
    }

    fn put_user(&mut self, ops: &mut Vec<StoreOp>, user: UserDef) {
        ops.push(StoreOp::put(
            DB,
            key(&["user:info:", &user.iden]),
            encode(&user.to_info()),
        ));
        self.users.insert(user.iden.clone(), Arc::new(user));
    }

    fn put_role(&mut self, ops: &mut Vec<StoreOp>, role: RoleDef) {
        ops.push(StoreOp::put(
            DB,
            key(&["role:info:", &role.iden]),
            encode(&role.to_info()),
        ));
        self.roles.insert(role.iden.clone(), Arc::new(role));
    }

    fn put_gate_entry(
        &mut self,
        ops: &mut Vec<StoreOp>,
        gate: &str,
        kind: &str,
        iden: &str,
        entry: Option<GateEntry>,
    ) {
        let Some(current) = self.gates.get(gate) else {
            return;
        };
        let mut next = (**current).clone();
        let list = if kind == "user" {
            &mut next.users
        } else {
            &mut next.roles
        };
        let row = key(&["gate:", gate, ":", kind, ":", iden]);
        match entry {
            Some(entry) => {
                ops.push(StoreOp::put(DB, row, encode(&entry.to_value())));
                GateDef::set_entry(list, iden, entry);
            }
            None => {
                ops.push(StoreOp::delete(DB, row));
                list.retain(|(i, _)| i != iden);
            }
        }
        self.gates.insert(gate.to_string(), Arc::new(next));
    }

    fn check_user_limit(&self, maxusers: i64) -> Result<()> {
        if maxusers <= 0 {
            return Ok(());
        }
        let count = self
            .users
            .values()
            .filter(|u| u.name != "root" && !u.is_locked() && !u.is_archived())
            .count() as i64;
        if count >= maxusers {
            return Err(Error::new(
                ErrKind::HitLimit,
                format!("Cell at maximum number of users ({maxusers})."),
            ));
        }
        Ok(())
    }

    fn roles_of<'a>(&'a self, user: &'a UserDef) -> impl Iterator<Item = &'a Role> + 'a {
        user.roles.iter().filter_map(|iden| self.roles.get(iden))
    }

    fn allowed(
        &self,
        user: &UserDef,
        perm: &[String],
        default: Option<bool>,
        gate: Option<&str>,
        deepdeny: bool,
    ) -> Option<bool> {
        if user.is_locked() {
            return Some(false);
        }
        if user.is_admin() {
            return Some(true);
        }
        if deepdeny && self.has_deep_deny(user, perm, gate) {
            return Some(false);
        }
        if let Some(entry) = gate.and_then(|g| user.gate(g)) {
            if entry.is_admin() {
                return Some(true);
            }
            if let Some(rule) = entry.rules().iter().find(|r| r.matches(perm)) {
                return Some(rule.allow);
            }
        }
        if let Some(rule) = user.rules.iter().find(|r| r.matches(perm)) {
            return Some(rule.allow);
        }
        if let Some(gate) = gate {
            for role in self.roles_of(user) {
                if let Some(entry) = role.gate(gate)
                    && let Some(rule) = entry.rules().iter().find(|r| r.matches(perm))
                {
                    return Some(rule.allow);
                }
            }
        }
        for role in self.roles_of(user) {
            if let Some(rule) = role.rules.iter().find(|r| r.matches(perm)) {
                return Some(rule.allow);
            }
        }
        default
    }

    fn has_deep_deny(&self, user: &UserDef, perm: &[String], gate: Option<&str>) -> bool {
        let deeper = |rule: &Rule| {
            !rule.allow && rule.path.len() > perm.len() && rule.path[..perm.len()] == perm[..]
        };
        if let Some(entry) = gate.and_then(|g| user.gate(g)) {
            if entry.is_admin() {
                return false;
            }
            if entry.rules().iter().any(deeper) {
                return true;
            }
        }
        if user.rules.iter().any(deeper) {
            return true;
        }
        if let Some(gate) = gate
            && self.roles_of(user).any(|role| {
                role.gate(gate)
                    .is_some_and(|e| e.rules().iter().any(deeper))
            })
        {
            return true;
        }
        self.roles_of(user)
            .any(|role| role.rules.iter().any(deeper))
    }

    fn pack_user(&self, user: &UserDef, how: PackRoles) -> Value {
        let roles = match how {
            PackRoles::Idens => user.roles.iter().map(|r| Value::from(r.as_str())).collect(),
            PackRoles::Defs => self.roles_of(user).map(|r| r.pack()).collect(),
            PackRoles::Names => self
                .roles_of(user)
                .map(|r| Value::from(r.name.as_str()))
                .collect(),
        };
        user.pack_with(Value::Array(roles))
    }
}

/// Normalize an email address (trimmed, lowercased; `None` for empty).
pub fn norm_email(email: &str) -> Result<Option<String>> {
    let valu = email.trim();
    if valu.is_empty() {
        return Ok(None);
    }
    let bad = || Error::bad_arg(format!("Invalid email address: {valu}")).with("name", "email");
    let (user, host) = valu.split_once('@').ok_or_else(bad)?;
    if user.is_empty()
        || host.is_empty()
        || host.contains('@')
        || valu.contains(char::is_whitespace)
    {
        return Err(bad());
    }
    Ok(Some(valu.to_lowercase()))
}

struct Inner {
    store: Arc<dyn Store>,
    state: RwLock<Arc<State>>,
    write: tokio::sync::Mutex<()>,
    policy: Option<Policy>,
    maxusers: i64,
    events: broadcast::Sender<AuthEvent>,
}

/// The cell's users, roles, gates and API keys. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.snapshot();
        f.debug_struct("Auth")
            .field("users", &state.users.len())
            .field("roles", &state.roles.len())
            .finish()
    }
}

/// Options of [`Auth::open`].
#[derive(Debug, Clone, Default)]
pub struct AuthOptions {
    /// Seed of the fixed `root`/`all` idens: `guid((cell iden, 'hive', 'auth'))` for cells.
    pub seed: String,
    /// `max:users` (0 = no limit).
    pub maxusers: i64,
    /// `auth:passwd:policy`.
    pub policy: Option<serde_json::Value>,
}

impl AuthOptions {
    /// The options of a cell with iden `cell_iden`.
    pub fn for_cell(cell_iden: &str) -> Self {
        let seed = guid_of(&Value::Array(vec![
            Value::from(cell_iden),
            Value::from("hive"),
            Value::from("auth"),
        ]));
        Self {
            seed,
            ..Self::default()
        }
    }
}

impl Auth {
    /// Load auth from `store`, creating `root` (admin, unlocked) and the `all` role if missing.
    pub async fn open(store: Arc<dyn Store>, opts: AuthOptions) -> Result<Self> {
        let policy = match &opts.policy {
            Some(valu) => {
                policy::check_policy(valu)?;
                Some(Policy::from_json(valu))
            }
            None => None,
        };
        let mut state = State::default();
        for (key, val) in store.scan(DB, b"").await? {
            let Ok(key) = String::from_utf8(key) else {
                continue;
            };
            let valu = decode(&val)?;
            if key.starts_with("user:info:") {
                let user = UserDef::from_info(&valu)?;
                state.users.insert(user.iden.clone(), Arc::new(user));
            } else if let Some(name) = key.strip_prefix("user:name:") {
                if let Some(iden) = valu.as_str() {
                    state.user_names.insert(name.to_string(), iden.to_string());
                }
            } else if let Some(email) = key.strip_prefix("user:email:") {
                if let Some(iden) = valu.as_str() {
                    state
                        .user_emails
                        .insert(email.to_string(), iden.to_string());
                }
            } else if key.starts_with("role:info:") {
                let role = RoleDef::from_info(&valu)?;
                state.roles.insert(role.iden.clone(), Arc::new(role));
            } else if let Some(name) = key.strip_prefix("role:name:") {
                if let Some(iden) = valu.as_str() {
                    state.role_names.insert(name.to_string(), iden.to_string());
                }
            } else if key.starts_with("gate:info:") {
                let iden = crate::value::map_get(&valu, "iden").and_then(Value::as_str);
                let typ = crate::value::map_get(&valu, "type").and_then(Value::as_str);
                if let (Some(iden), Some(typ)) = (iden, typ) {
                    let gate = state.gates.entry(iden.to_string()).or_insert_with(|| {
                        Arc::new(GateDef {
                            iden: iden.to_string(),
                            typ: String::new(),
                            users: Vec::new(),
                            roles: Vec::new(),
                        })
                    });
                    Arc::make_mut(gate).typ = typ.to_string();
                }
            } else if let Some(rest) = key.strip_prefix("gate:") {
                // gate:<iden>:user:<useriden> / gate:<iden>:role:<roleiden>
                let mut parts = rest.splitn(3, ':');
                if let (Some(gate), Some(kind), Some(iden)) =
                    (parts.next(), parts.next(), parts.next())
                {
                    let entry = GateEntry::from_value(&valu);
                    let gdef = state.gates.entry(gate.to_string()).or_insert_with(|| {
                        Arc::new(GateDef {
                            iden: gate.to_string(),
                            typ: String::new(),
                            users: Vec::new(),
                            roles: Vec::new(),
                        })
                    });
                    let gdef = Arc::make_mut(gdef);
                    match kind {
                        "user" => GateDef::set_entry(&mut gdef.users, iden, entry),
                        "role" => GateDef::set_entry(&mut gdef.roles, iden, entry),
                        _ => {}
                    }
                }
            } else if let Some(rest) = key.strip_prefix("user:") {
                // user:<iden>:vars:<name> / user:<iden>:profile:<name>
                if let Some((iden, rest)) = rest.split_once(':') {
                    if let Some(name) = rest.strip_prefix("vars:") {
                        Arc::make_mut(state.vars.entry(iden.to_string()).or_default())
                            .insert(name.to_string(), valu);
                    } else if let Some(name) = rest.strip_prefix("profile:") {
                        Arc::make_mut(state.profiles.entry(iden.to_string()).or_default())
                            .insert(name.to_string(), valu);
                    }
                }
            }
        }
        for (key, val) in store.scan(DB_USERMETA, b"").await? {
            if key.len() == 38
                && &key[16..22] == b"apikey"
                && let Some(kdef) = ApiKeyDef::from_stored(&decode(&val)?)
            {
                state.apikeys.insert(kdef.iden.clone(), Arc::new(kdef));
            }
        }

        let (events, _) = broadcast::channel(1024);
        let auth = Auth {
            inner: Arc::new(Inner {
                store,
                state: RwLock::new(Arc::new(state)),
                write: tokio::sync::Mutex::new(()),
                policy,
                maxusers: opts.maxusers,
                events,
            }),
        };
        auth.boot(&opts.seed).await?;
        Ok(auth)
    }

    async fn boot(&self, seed: &str) -> Result<()> {
        let seeded = |kind: &str, name: &str| {
            guid_of(&Value::Array(vec![
                Value::from(seed),
                Value::from("auth"),
                Value::from(kind),
                Value::from(name),
            ]))
        };
        let all_iden = seeded("role", "all");
        let root_iden = seeded("user", "root");
        self.mutate(|state, ops| {
            let allrole = match state.role_names.get("all").cloned() {
                Some(iden) => iden,
                None => {
                    Self::insert_role(state, ops, &all_iden, "all");
                    all_iden.clone()
                }
            };
            let root = match state.user_names.get("root").cloned() {
                Some(iden) => iden,
                None => {
                    Self::insert_user(state, ops, &root_iden, "root");
                    root_iden.clone()
                }
            };
            let mut user = (*state.user(&root)?).clone();
            if !user.is_admin() || user.is_locked() {
                user.admin = Some(true);
                user.locked = Some(false);
                state.put_user(ops, user);
            }
            state.root = root;
            state.allrole = allrole;
            Ok(())
        })
        .await
    }

    fn insert_user(state: &mut State, ops: &mut Vec<StoreOp>, iden: &str, name: &str) {
        state.put_user(ops, UserDef::new(iden, name));
        ops.push(StoreOp::put(
            DB,
            key(&["user:name:", name]),
            encode(&Value::from(iden)),
        ));
        state.user_names.insert(name.to_string(), iden.to_string());
    }

    fn insert_role(state: &mut State, ops: &mut Vec<StoreOp>, iden: &str, name: &str) {
        state.put_role(ops, RoleDef::new(iden, name));
        ops.push(StoreOp::put(
            DB,
            key(&["role:name:", name]),
            encode(&Value::from(iden)),
        ));
        state.role_names.insert(name.to_string(), iden.to_string());
    }

    fn snapshot(&self) -> Arc<State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serialize a change: compute it on a copy, store it, then publish it.
    async fn mutate<R>(
        &self,
        func: impl FnOnce(&mut State, &mut Vec<StoreOp>) -> Result<R>,
    ) -> Result<R> {
        let _guard = self.inner.write.lock().await;
        let mut next = (*self.snapshot()).clone();
        let mut ops = Vec::new();
        let res = func(&mut next, &mut ops)?;
        if !ops.is_empty() {
            self.inner.store.apply(ops).await?;
        }
        *self.inner.state.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(next);
        Ok(res)
    }

    fn fire(&self, event: AuthEvent) {
        // No receiver is fine.
        let _ = self.inner.events.send(event);
    }

    fn changed(&self, event: &str, iden: &str) {
        self.fire(AuthEvent::Changed {
            event: event.to_string(),
            iden: iden.to_string(),
        });
    }

    /// Subscribe to auth changes.
    pub fn subscribe(&self) -> broadcast::Receiver<AuthEvent> {
        self.inner.events.subscribe()
    }

    /// The password policy, if configured.
    pub fn policy(&self) -> Option<&Policy> {
        self.inner.policy.as_ref()
    }

    // ----- lookups -----

    /// The `root` user's iden.
    pub fn root_iden(&self) -> String {
        self.snapshot().root.clone()
    }

    /// The `all` role's iden.
    pub fn all_role_iden(&self) -> String {
        self.snapshot().allrole.clone()
    }

    /// A user by iden.
    pub fn user(&self, iden: &str) -> Option<User> {
        self.snapshot().users.get(iden).cloned()
    }

    /// A user by iden, or `NoSuchUser "No user with iden <iden>."`.
    pub fn req_user(&self, iden: &str) -> Result<User> {
        self.snapshot().user(iden)
    }

    /// A user by name.
    pub fn user_by_name(&self, name: &str) -> Option<User> {
        let state = self.snapshot();
        state
            .user_names
            .get(name)
            .and_then(|iden| state.users.get(iden))
            .cloned()
    }

    /// A user by name, or `NoSuchUser "No user named <name>."`.
    pub fn req_user_by_name(&self, name: &str) -> Result<User> {
        self.user_by_name(name).ok_or_else(|| {
            Error::new(ErrKind::NoSuchUser, format!("No user named {name}.")).with("username", name)
        })
    }

    /// A user by (normalized) email.
    pub fn user_by_email(&self, email: &str) -> Result<Option<User>> {
        let Some(norm) = norm_email(email)? else {
            return Ok(None);
        };
        let state = self.snapshot();
        Ok(state
            .user_emails
            .get(&norm)
            .and_then(|iden| state.users.get(iden))
            .cloned())
    }

    /// A role by iden.
    pub fn role(&self, iden: &str) -> Option<Role> {
        self.snapshot().roles.get(iden).cloned()
    }

    /// A role by iden, or `NoSuchRole "No role with iden <iden>."`.
    pub fn req_role(&self, iden: &str) -> Result<Role> {
        self.snapshot().role(iden)
    }

    /// A role by name.
    pub fn role_by_name(&self, name: &str) -> Option<Role> {
        let state = self.snapshot();
        state
            .role_names
            .get(name)
            .and_then(|iden| state.roles.get(iden))
            .cloned()
    }

    /// A role by name, or `NoSuchRole "No role named <name>."`.
    pub fn req_role_by_name(&self, name: &str) -> Result<Role> {
        self.role_by_name(name)
            .ok_or_else(|| Error::new(ErrKind::NoSuchRole, format!("No role named {name}.")))
    }

    /// Every user, by name order.
    pub fn users(&self) -> Vec<User> {
        let state = self.snapshot();
        state
            .user_names
            .values()
            .filter_map(|iden| state.users.get(iden).cloned())
            .collect()
    }

    /// Every role, by name order.
    pub fn roles(&self) -> Vec<Role> {
        let state = self.snapshot();
        state
            .role_names
            .values()
            .filter_map(|iden| state.roles.get(iden).cloned())
            .collect()
    }

    /// The roles of a user, in the user's order (missing roles skipped).
    pub fn user_roles(&self, user: &UserDef) -> Vec<Role> {
        let state = self.snapshot();
        state.roles_of(user).cloned().collect()
    }

    /// A packed user def, roles shown as `how` says.
    pub fn pack_user(&self, user: &UserDef, how: PackRoles) -> Value {
        self.snapshot().pack_user(user, how)
    }

    /// An auth gate.
    pub fn gate(&self, iden: &str) -> Option<Arc<GateDef>> {
        self.snapshot().gates.get(iden).cloned()
    }

    /// Every auth gate.
    pub fn gates(&self) -> Vec<Arc<GateDef>> {
        self.snapshot().gates.values().cloned().collect()
    }

    /// Check a user's permission (see the module docs for the order). An unknown user is
    /// denied.
    pub fn allowed(
        &self,
        useriden: &str,
        perm: &[String],
        default: Option<bool>,
        gate: Option<&str>,
    ) -> Option<bool> {
        let state = self.snapshot();
        match state.users.get(useriden) {
            Some(user) => state.allowed(user, perm, default, gate, false),
            None => Some(false),
        }
    }

    /// [`Auth::allowed`] where a deny rule *below* `perm` also denies (to know whether a whole
    /// subtree can be skipped).
    pub fn allowed_deep(
        &self,
        useriden: &str,
        perm: &[String],
        default: Option<bool>,
        gate: Option<&str>,
    ) -> Option<bool> {
        let state = self.snapshot();
        match state.users.get(useriden) {
            Some(user) => state.allowed(user, perm, default, gate, true),
            None => Some(false),
        }
    }

    /// Check a role's permission: its gate rules (with a gate) or its rules.
    pub fn role_allowed(
        &self,
        roleiden: &str,
        perm: &[String],
        default: Option<bool>,
        gate: Option<&str>,
    ) -> Option<bool> {
        let state = self.snapshot();
        let role = state.roles.get(roleiden)?;
        let rules: &[Rule] = match gate {
            Some(gate) => match role.gate(gate) {
                Some(entry) => entry.rules(),
                None => return default,
            },
            None => &role.rules,
        };
        rules
            .iter()
            .find(|r| r.matches(perm))
            .map(|r| r.allow)
            .or(default)
    }

    /// Raise the reference's `AuthDeny` unless the user has `perm`.
    pub fn confirm(
        &self,
        user: &UserDef,
        perm: &[String],
        default: Option<bool>,
        gate: Option<&str>,
    ) -> Result<()> {
        if self.allowed(&user.iden, perm, default, gate) == Some(true) {
            return Ok(());
        }
        let text = perm.join(".");
        let mesg = match gate {
            None => format!(
                "User {} ({}) must have permission {text}",
                pyrepr(&user.name),
                user.iden
            ),
            Some(gate) => {
                let gdef = self.snapshot().gate(gate)?;
                format!(
                    "User {} ({}) must have permission {text} on object {} ({}).",
                    pyrepr(&user.name),
                    user.iden,
                    gdef.iden,
                    gdef.typ
                )
            }
        };
        Err(Error::auth_deny(mesg, &user.iden, &user.name).with("perm", text.as_str()))
    }

    // ----- users and roles -----

    /// Add a user (given the `all` role); with `passwd`, its password is set under the policy.
    pub async fn add_user(
        &self,
        name: &str,
        passwd: Option<&str>,
        email: Option<&str>,
        iden: Option<&str>,
    ) -> Result<User> {
        let email = match email {
            Some(email) => norm_email(email)?,
            None => None,
        };
        let maxusers = self.inner.maxusers;
        let iden = self
            .mutate(|state, ops| {
                state.check_user_limit(maxusers)?;
                if state.user_names.contains_key(name) {
                    return Err(Error::new(
                        ErrKind::DupUserName,
                        format!("Duplicate username, name={} already exists.", pyrepr(name)),
                    )
                    .with("name", name));
                }
                if let Some(email) = &email
                    && state.user_emails.contains_key(email)
                {
                    return Err(Error::new(
                        ErrKind::DupUserEmail,
                        format!("Duplicate email, email={} already exists.", pyrepr(email)),
                    )
                    .with("email", email.as_str()));
                }
                let iden = match iden {
                    None => synapse_base::guid(),
                    Some(iden) => {
                        if !is_guid(iden) {
                            return Err(Error::bad_arg("Argument it not a valid iden.")
                                .with("name", "iden")
                                .with("arg", iden));
                        }
                        if state.users.contains_key(iden) {
                            return Err(Error::new(
                                ErrKind::DupIden,
                                "User already exists for the iden.",
                            )
                            .with("name", name)
                            .with("iden", iden));
                        }
                        iden.to_string()
                    }
                };
                state.req_no_gate(&iden)?;
                Self::insert_user(state, ops, &iden, name);
                let mut user = (*state.user(&iden)?).clone();
                user.roles.push(state.allrole.clone());
                if let Some(email) = &email {
                    user.email = Some(email.clone());
                    ops.push(StoreOp::put(
                        DB,
                        key(&["user:email:", email]),
                        encode(&Value::from(iden.as_str())),
                    ));
                    state.user_emails.insert(email.clone(), iden.clone());
                }
                state.put_user(ops, user);
                Ok(iden)
            })
            .await?;
        self.changed("user:add", &iden);
        if let Some(passwd) = passwd {
            self.set_user_passwd(&iden, Some(passwd), true).await?;
        }
        self.req_user(&iden)
    }

    /// Delete a user (not root), its gate entries, vars, profile and API keys.
    pub async fn del_user(&self, iden: &str) -> Result<()> {
        self.mutate(|state, ops| {
            let user = state.user(iden)?;
            if iden == state.root {
                return Err(Error::bad_arg("User \"root\" may not be deleted."));
            }
            if let Some(email) = &user.email {
                ops.push(StoreOp::delete(DB, key(&["user:email:", email])));
                state.user_emails.remove(email);
            }
            for (gate, _) in &user.authgates {
                state.put_gate_entry(ops, gate, "user", iden, None);
            }
            ops.push(StoreOp::delete_prefix(DB, key(&["user:", iden, ":vars:"])));
            ops.push(StoreOp::delete_prefix(
                DB,
                key(&["user:", iden, ":profile:"]),
            ));
            state.vars.remove(iden);
            state.profiles.remove(iden);
            ops.push(StoreOp::delete(DB, key(&["user:info:", iden])));
            ops.push(StoreOp::delete(DB, key(&["user:name:", &user.name])));
            state.users.remove(iden);
            state.user_names.remove(&user.name);
            let keys: Vec<String> = state
                .apikeys
                .values()
                .filter(|k| k.user == iden)
                .map(|k| k.iden.clone())
                .collect();
            for kiden in keys {
                ops.push(StoreOp::delete(DB_APIKEYS, uhex(&kiden)));
                state.apikeys.remove(&kiden);
            }
            ops.push(StoreOp::delete_prefix(DB_USERMETA, uhex(iden)));
            Ok(())
        })
        .await?;
        self.fire(AuthEvent::UserDeleted {
            iden: iden.to_string(),
        });
        self.changed("user:del", iden);
        Ok(())
    }

    /// Add a role.
    pub async fn add_role(&self, name: &str, iden: Option<&str>) -> Result<Role> {
        let iden = self
            .mutate(|state, ops| {
                if state.role_names.contains_key(name) {
                    return Err(Error::new(
                        ErrKind::DupRoleName,
                        format!("Duplicate role name, name={} already exists.", pyrepr(name)),
                    )
                    .with("name", name));
                }
                let iden = match iden {
                    None => synapse_base::guid(),
                    Some(iden) => {
                        if !is_guid(iden) {
                            return Err(Error::bad_arg(format!(
                                "Argument {iden} it not a valid iden."
                            ))
                            .with("name", "iden")
                            .with("arg", iden));
                        }
                        if state.roles.contains_key(iden) {
                            return Err(Error::new(
                                ErrKind::DupIden,
                                format!("Role already exists for iden={}.", pyrepr(iden)),
                            )
                            .with("name", name)
                            .with("iden", iden));
                        }
                        iden.to_string()
                    }
                };
                state.req_no_gate(&iden)?;
                Self::insert_role(state, ops, &iden, name);
                Ok(iden)
            })
            .await?;
        self.changed("role:add", &iden);
        self.req_role(&iden)
    }

    /// Delete a role (not `all`): revoked from every user, removed from gates.
    pub async fn del_role(&self, iden: &str) -> Result<()> {
        self.mutate(|state, ops| {
            let role = state.role(iden)?;
            if iden == state.allrole {
                return Err(Error::bad_arg("Role \"all\" may not be deleted."));
            }
            let members: Vec<User> = state
                .users
                .values()
                .filter(|u| u.roles.iter().any(|r| r == iden))
                .cloned()
                .collect();
            for user in members {
                let mut user = (*user).clone();
                user.roles.retain(|r| r != iden);
                state.put_user(ops, user);
            }
            for (gate, _) in &role.authgates {
                state.put_gate_entry(ops, gate, "role", iden, None);
            }
            ops.push(StoreOp::delete(DB, key(&["role:info:", iden])));
            ops.push(StoreOp::delete(DB, key(&["role:name:", &role.name])));
            state.roles.remove(iden);
            state.role_names.remove(&role.name);
            Ok(())
        })
        .await?;
        self.changed("role:del", iden);
        Ok(())
    }

    /// Rename a user (not root).
    pub async fn set_user_name(&self, iden: &str, name: &str) -> Result<()> {
        self.mutate(|state, ops| {
            if let Some(other) = state.user_names.get(name) {
                if other == iden {
                    return Ok(());
                }
                return Err(Error::new(
                    ErrKind::DupUserName,
                    format!("Duplicate username, name={} already exists.", pyrepr(name)),
                )
                .with("name", name));
            }
            let user = state.user(iden)?;
            if iden == state.root {
                return Err(Error::bad_arg("Cannot change the name of the root user."));
            }
            ops.push(StoreOp::delete(DB, key(&["user:name:", &user.name])));
            ops.push(StoreOp::put(
                DB,
                key(&["user:name:", name]),
                encode(&Value::from(iden)),
            ));
            state.user_names.remove(&user.name);
            state.user_names.insert(name.to_string(), iden.to_string());
            let mut user = (*user).clone();
            user.name = name.to_string();
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        self.changed("user:name", iden);
        Ok(())
    }

    /// Rename a role (not `all`).
    pub async fn set_role_name(&self, iden: &str, name: &str) -> Result<()> {
        self.mutate(|state, ops| {
            if let Some(other) = state.role_names.get(name) {
                if other == iden {
                    return Ok(());
                }
                return Err(Error::new(
                    ErrKind::DupRoleName,
                    format!("Duplicate role name, name={} already exists.", pyrepr(name)),
                )
                .with("name", name));
            }
            let role = state.role(iden)?;
            if role.name == "all" {
                return Err(Error::bad_arg("Role \"all\" may not be renamed."));
            }
            ops.push(StoreOp::delete(DB, key(&["role:name:", &role.name])));
            ops.push(StoreOp::put(
                DB,
                key(&["role:name:", name]),
                encode(&Value::from(iden)),
            ));
            state.role_names.remove(&role.name);
            state.role_names.insert(name.to_string(), iden.to_string());
            let mut role = (*role).clone();
            role.name = name.to_string();
            state.put_role(ops, role);
            Ok(())
        })
        .await?;
        self.changed("role:name", iden);
        Ok(())
    }

    /// Set (or clear, with `None`/empty) a user's email; must be unique.
    pub async fn set_user_email(&self, iden: &str, email: Option<&str>) -> Result<()> {
        let norm = match email {
            Some(email) => norm_email(email)?,
            None => None,
        };
        self.mutate(|state, ops| {
            let user = state.user(iden)?;
            if norm == user.email {
                return Ok(());
            }
            if let Some(norm) = &norm {
                if state
                    .user_emails
                    .get(norm)
                    .is_some_and(|other| other != iden)
                {
                    return Err(Error::new(
                        ErrKind::DupUserEmail,
                        format!("Duplicate email, email={} already exists.", pyrepr(norm)),
                    )
                    .with("email", norm.as_str()));
                }
                ops.push(StoreOp::put(
                    DB,
                    key(&["user:email:", norm]),
                    encode(&Value::from(iden)),
                ));
                state.user_emails.insert(norm.clone(), iden.to_string());
            }
            if let Some(old) = &user.email {
                ops.push(StoreOp::delete(DB, key(&["user:email:", old])));
                state.user_emails.remove(old);
            }
            let mut user = (*user).clone();
            user.email = norm;
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        self.changed("user:info", iden);
        Ok(())
    }

    /// Set a user's admin flag, globally or on `gate`.
    pub async fn set_user_admin(&self, iden: &str, admin: bool, gate: Option<&str>) -> Result<()> {
        self.mutate(|state, ops| {
            let user = state.user(iden)?;
            if iden == state.root && !admin && gate.is_none() {
                return Err(Error::bad_arg("Cannot remove admin from root user."));
            }
            let mut user = (*user).clone();
            match gate {
                None => user.admin = Some(admin),
                Some(gate) => {
                    state.gate(gate)?;
                    let current = user.gate(gate).cloned().unwrap_or_default();
                    if !admin && current.rules().is_empty() {
                        user.authgates.retain(|(g, _)| g != gate);
                        state.put_gate_entry(ops, gate, "user", iden, None);
                    } else {
                        let entry = user.gate_mut(gate);
                        entry.admin = Some(admin);
                        let entry = entry.clone();
                        state.put_gate_entry(ops, gate, "user", iden, Some(entry));
                    }
                }
            }
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        self.changed("user:info", iden);
        Ok(())
    }

    /// Lock or unlock a user (root cannot be locked; archived users cannot be unlocked).
    pub async fn set_user_locked(&self, iden: &str, locked: bool) -> Result<()> {
        let maxusers = self.inner.maxusers;
        self.mutate(|state, ops| {
            let user = state.user(iden)?;
            if iden == state.root && locked {
                return Err(Error::bad_arg("Cannot lock admin root user."));
            }
            if !locked && user.is_archived() {
                return Err(Error::bad_arg("Cannot unlock archived user.")
                    .with("user", iden)
                    .with("username", user.name.as_str()));
            }
            if !locked {
                state.check_user_limit(maxusers)?;
            }
            let mut user = (*user).clone();
            user.locked = Some(locked);
            if !locked {
                user.attempts = 0;
            }
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        self.fire(AuthEvent::UserLocked {
            iden: iden.to_string(),
            locked,
        });
        self.changed("user:info", iden);
        Ok(())
    }

    /// Archive (which also locks) or unarchive a user (not root).
    pub async fn set_user_archived(&self, iden: &str, archived: bool) -> Result<()> {
        let maxusers = self.inner.maxusers;
        self.mutate(|state, ops| {
            let user = state.user(iden)?;
            if iden == state.root && archived {
                return Err(Error::bad_arg("Cannot archive root user."));
            }
            if !archived {
                state.check_user_limit(maxusers)?;
            }
            let mut user = (*user).clone();
            user.archived = Some(archived);
            if archived {
                user.locked = Some(true);
            }
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        if archived {
            self.fire(AuthEvent::UserLocked {
                iden: iden.to_string(),
                locked: true,
            });
        }
        self.changed("user:info", iden);
        Ok(())
    }

    /// Set (`Some`) or clear (`None`) a user's password. `Some("")` is `BadArg`. With
    /// `enforce_policy`, the configured policy applies.
    pub async fn set_user_passwd(
        &self,
        iden: &str,
        passwd: Option<&str>,
        enforce_policy: bool,
    ) -> Result<()> {
        let user = self.req_user(iden)?;
        let shadow = match passwd {
            None => None,
            Some("") => return Err(Error::bad_arg("Password must be a string")),
            Some(passwd) => Some(passwd::make_shadow(passwd).await?),
        };
        let enforce = enforce_policy && passwd.is_some();
        let mut previous = None;
        if enforce && let Some(policy) = self.policy() {
            let mut failures = policy.complexity_failures(passwd);
            if let (Some(count), Some(passwd)) = (policy.previous, passwd) {
                for prev in &user.previous {
                    if passwd::check_shadow(passwd, prev).await.unwrap_or(false) {
                        failures.push(format!(
                            "Password cannot be the same as previous {count} password(s)."
                        ));
                        break;
                    }
                }
                if let Some(shadow) = &shadow {
                    let mut list = vec![shadow.clone()];
                    list.extend(user.previous.iter().cloned());
                    list.truncate(count);
                    previous = Some(list);
                }
            }
            if !failures.is_empty() {
                return Err(policy_error(failures));
            }
        }
        self.mutate(|state, ops| {
            let mut user = (*state.user(iden)?).clone();
            user.passwd = shadow.map(StoredPasswd::V2);
            if let Some(previous) = previous {
                user.previous = previous;
            }
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        self.changed("user:passwd", iden);
        Ok(())
    }

    /// Check a user's password: locked users, `None` and users without a password fail; a
    /// valid one-time password is accepted once; legacy passwords are upgraded; with a
    /// policy `attempts`, failures are counted and the user locked at the limit (not root).
    pub async fn try_user_passwd(&self, iden: &str, passwd: Option<&str>) -> Result<bool> {
        let user = self.req_user(iden)?;
        if user.is_locked() {
            return Ok(false);
        }
        let Some(passwd) = passwd else {
            return Ok(false);
        };
        if let Some(onepass) = &user.onepass
            && onepass.expires >= synapse_base::now_ms()
            && passwd::check_shadow(passwd, &onepass.shadow).await?
        {
            self.mutate(|state, ops| {
                let mut user = (*state.user(iden)?).clone();
                user.onepass = None;
                state.put_user(ops, user);
                Ok(())
            })
            .await?;
            tracing::debug!(user = %user.name, "used one time password");
            return Ok(true);
        }
        let Some(stored) = &user.passwd else {
            return Ok(false);
        };
        match stored {
            StoredPasswd::V2(_) => {
                let ok = stored.check(passwd).await?;
                let Some(attempts) = self.policy().and_then(|p| p.attempts) else {
                    return Ok(ok);
                };
                if ok {
                    if user.attempts > 0 {
                        self.mutate(|state, ops| {
                            let mut user = (*state.user(iden)?).clone();
                            user.attempts = 0;
                            state.put_user(ops, user);
                            Ok(())
                        })
                        .await?;
                    }
                    return Ok(true);
                }
                let root = self.root_iden();
                let locked = self
                    .mutate(|state, ops| {
                        let mut user = (*state.user(iden)?).clone();
                        user.attempts += 1;
                        let lock = user.attempts >= attempts && iden != root;
                        if lock {
                            user.locked = Some(true);
                        }
                        state.put_user(ops, user);
                        Ok(lock)
                    })
                    .await?;
                if locked {
                    tracing::warn!(user = %user.name, "user exceeded the allowed password attempts, locked their account");
                    self.fire(AuthEvent::UserLocked {
                        iden: iden.to_string(),
                        locked: true,
                    });
                }
                Ok(false)
            }
            StoredPasswd::Legacy { .. } => {
                if stored.check(passwd).await? {
                    self.set_user_passwd(iden, Some(passwd), false).await?;
                    return Ok(true);
                }
                Ok(false)
            }
        }
    }

    /// Issue a one-time password valid for `duration_ms`.
    pub async fn gen_user_onepass(&self, iden: &str, duration_ms: i64) -> Result<String> {
        self.req_user(iden)?;
        let passwd = synapse_base::guid();
        let shadow = passwd::make_shadow(&passwd).await?;
        let now = synapse_base::now_ms();
        self.mutate(|state, ops| {
            let mut user = (*state.user(iden)?).clone();
            user.onepass = Some(Onepass {
                create: now,
                expires: now.saturating_add(duration_ms),
                shadow,
            });
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        Ok(passwd)
    }

    fn rules_of(
        user_or_role: &[(String, GateEntry)],
        rules: &[Rule],
        gate: Option<&str>,
    ) -> Vec<Rule> {
        match gate {
            None => rules.to_vec(),
            Some(gate) => user_or_role
                .iter()
                .find(|(g, _)| g == gate)
                .map(|(_, e)| e.rules().to_vec())
                .unwrap_or_default(),
        }
    }

    /// Replace a user's rules (globally or on `gate`).
    pub async fn set_user_rules(
        &self,
        iden: &str,
        rules: Vec<Rule>,
        gate: Option<&str>,
    ) -> Result<()> {
        self.mutate(|state, ops| {
            let mut user = (*state.user(iden)?).clone();
            match gate {
                None => user.rules = rules,
                Some(gate) => {
                    state.gate(gate)?;
                    let admin = user.gate(gate).is_some_and(GateEntry::is_admin);
                    if rules.is_empty() && !admin {
                        user.authgates.retain(|(g, _)| g != gate);
                        state.put_gate_entry(ops, gate, "user", iden, None);
                    } else {
                        let entry = user.gate_mut(gate);
                        entry.rules = Some(rules);
                        let entry = entry.clone();
                        state.put_gate_entry(ops, gate, "user", iden, Some(entry));
                    }
                }
            }
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        self.changed("user:info", iden);
        Ok(())
    }

    /// Insert a rule at `indx` (append if `None`).
    pub async fn add_user_rule(
        &self,
        iden: &str,
        rule: Rule,
        indx: Option<i64>,
        gate: Option<&str>,
    ) -> Result<()> {
        let user = self.req_user(iden)?;
        let mut rules = Self::rules_of(&user.authgates, &user.rules, gate);
        insert_at(&mut rules, indx, rule);
        self.set_user_rules(iden, rules, gate).await
    }

    /// Remove a rule; false if the user does not have it.
    pub async fn del_user_rule(&self, iden: &str, rule: &Rule, gate: Option<&str>) -> Result<bool> {
        let user = self.req_user(iden)?;
        let mut rules = Self::rules_of(&user.authgates, &user.rules, gate);
        let Some(pos) = rules.iter().position(|r| r == rule) else {
            return Ok(false);
        };
        rules.remove(pos);
        self.set_user_rules(iden, rules, gate).await?;
        Ok(true)
    }

    /// Replace a role's rules (globally or on `gate`).
    pub async fn set_role_rules(
        &self,
        iden: &str,
        rules: Vec<Rule>,
        gate: Option<&str>,
    ) -> Result<()> {
        self.mutate(|state, ops| {
            let mut role = (*state.role(iden)?).clone();
            match gate {
                None => role.rules = rules,
                Some(gate) => {
                    state.gate(gate)?;
                    if rules.is_empty() {
                        role.authgates.retain(|(g, _)| g != gate);
                        state.put_gate_entry(ops, gate, "role", iden, None);
                    } else {
                        let entry = role.gate_mut(gate);
                        entry.rules = Some(rules);
                        let entry = entry.clone();
                        state.put_gate_entry(ops, gate, "role", iden, Some(entry));
                    }
                }
            }
            state.put_role(ops, role);
            Ok(())
        })
        .await?;
        self.changed("role:info", iden);
        Ok(())
    }

    /// Insert a role rule at `indx` (append if `None`).
    pub async fn add_role_rule(
        &self,
        iden: &str,
        rule: Rule,
        indx: Option<i64>,
        gate: Option<&str>,
    ) -> Result<()> {
        let role = self.req_role(iden)?;
        let mut rules = Self::rules_of(&role.authgates, &role.rules, gate);
        insert_at(&mut rules, indx, rule);
        self.set_role_rules(iden, rules, gate).await
    }

    /// Remove a role rule; false if the role does not have it.
    pub async fn del_role_rule(&self, iden: &str, rule: &Rule, gate: Option<&str>) -> Result<bool> {
        let role = self.req_role(iden)?;
        let mut rules = Self::rules_of(&role.authgates, &role.rules, gate);
        let Some(pos) = rules.iter().position(|r| r == rule) else {
            return Ok(false);
        };
        rules.remove(pos);
        self.set_role_rules(iden, rules, gate).await?;
        Ok(true)
    }

    /// Grant a role to a user at `indx` (append if `None`); no-op if already granted.
    pub async fn grant(&self, useriden: &str, roleiden: &str, indx: Option<i64>) -> Result<()> {
        self.mutate(|state, ops| {
            let user = state.user(useriden)?;
            state.role(roleiden)?;
            if user.roles.iter().any(|r| r == roleiden) {
                return Ok(());
            }
            let mut user = (*user).clone();
            insert_at(&mut user.roles, indx, roleiden.to_string());
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        self.changed("user:info", useriden);
        Ok(())
    }

    /// Revoke a role (not `all`) from a user; no-op if not granted.
    pub async fn revoke(&self, useriden: &str, roleiden: &str) -> Result<()> {
        self.mutate(|state, ops| {
            let user = state.user(useriden)?;
            let role = state.role(roleiden)?;
            if role.name == "all" {
                return Err(Error::bad_arg("Role \"all\" may not be revoked."));
            }
            if !user.roles.iter().any(|r| r == roleiden) {
                return Ok(());
            }
            let mut user = (*user).clone();
            user.roles.retain(|r| r != roleiden);
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        self.changed("user:info", useriden);
        Ok(())
    }

    /// Replace a user's roles; the `all` role must be in the list.
    pub async fn set_user_roles(&self, useriden: &str, roleidens: Vec<String>) -> Result<()> {
        self.mutate(|state, ops| {
            let user = state.user(useriden)?;
            if user.roles == roleidens {
                return Ok(());
            }
            if !roleidens.contains(&state.allrole) {
                return Err(Error::bad_arg(
                    "Role \"all\" must be in the list of roles set.",
                ));
            }
            for iden in &roleidens {
                state.role(iden)?;
            }
            let mut user = (*user).clone();
            user.roles = roleidens;
            state.put_user(ops, user);
            Ok(())
        })
        .await?;
        self.changed("user:info", useriden);
        Ok(())
    }

    // ----- gates -----

    /// Get or create the auth gate `iden` of type `typ`.
    pub async fn add_auth_gate(&self, iden: &str, typ: &str) -> Result<Arc<GateDef>> {
        if let Some(gate) = self.gate(iden) {
            if gate.typ != typ {
                return Err(Error::new(
                    ErrKind::InconsistentStorage,
                    format!("Stored AuthGate is of type {}, not {typ}", gate.typ),
                ));
            }
            return Ok(gate);
        }
        self.mutate(|state, ops| {
            let gate = Arc::new(GateDef {
                iden: iden.to_string(),
                typ: typ.to_string(),
                users: Vec::new(),
                roles: Vec::new(),
            });
            ops.push(StoreOp::put(
                DB,
                key(&["gate:info:", iden]),
                encode(&crate::value::map([
                    ("iden", Value::from(iden)),
                    ("type", Value::from(typ)),
                ])),
            ));
            state.gates.insert(iden.to_string(), gate.clone());
            Ok(gate)
        })
        .await
    }

    /// Delete an auth gate and every user/role entry on it.
    pub async fn del_auth_gate(&self, iden: &str) -> Result<()> {
        self.mutate(|state, ops| {
            let gate = state.gates.get(iden).cloned().ok_or_else(|| {
                Error::new(
                    ErrKind::NoSuchAuthGate,
                    format!("No auth gate found with iden: ({iden})."),
                )
                .with("iden", iden)
            })?;
            for (useriden, _) in &gate.users {
                if let Some(user) = state.users.get(useriden) {
                    let mut user = (**user).clone();
                    user.authgates.retain(|(g, _)| g != iden);
                    state.put_user(ops, user);
                }
            }
            for (roleiden, _) in &gate.roles {
                if let Some(role) = state.roles.get(roleiden) {
                    let mut role = (**role).clone();
                    role.authgates.retain(|(g, _)| g != iden);
                    state.put_role(ops, role);
                }
            }
            ops.push(StoreOp::delete(DB, key(&["gate:info:", iden])));
            ops.push(StoreOp::delete_prefix(DB, key(&["gate:", iden, ":"])));
            state.gates.remove(iden);
            Ok(())
        })
        .await
    }

    // ----- profile and vars -----

    fn keyvals(&self, iden: &str, vars: bool) -> Result<Arc<KeyVals>> {
        let state = self.snapshot();
        state.user(iden)?;
        let map = if vars { &state.vars } else { &state.profiles };
        Ok(map.get(iden).cloned().unwrap_or_default())
    }

    async fn set_keyval(&self, iden: &str, vars: bool, name: &str, valu: Value) -> Result<Value> {
        let part = if vars { ":vars:" } else { ":profile:" };
        self.mutate(|state, ops| {
            state.user(iden)?;
            ops.push(StoreOp::put(
                DB,
                key(&["user:", iden, part, name]),
                encode(&valu),
            ));
            let map = if vars {
                &mut state.vars
            } else {
                &mut state.profiles
            };
            Arc::make_mut(map.entry(iden.to_string()).or_default())
                .insert(name.to_string(), valu.clone());
            Ok(valu)
        })
        .await
    }

    async fn pop_keyval(&self, iden: &str, vars: bool, name: &str) -> Result<Option<Value>> {
        let part = if vars { ":vars:" } else { ":profile:" };
        self.mutate(|state, ops| {
            state.user(iden)?;
            let map = if vars {
                &mut state.vars
            } else {
                &mut state.profiles
            };
            let Some(entry) = map.get_mut(iden) else {
                return Ok(None);
            };
            let valu = Arc::make_mut(entry).remove(name);
            if valu.is_some() {
                ops.push(StoreOp::delete(DB, key(&["user:", iden, part, name])));
            }
            Ok(valu)
        })
        .await
    }

    /// A user's profile.
    pub fn user_profile(&self, iden: &str) -> Result<Arc<KeyVals>> {
        self.keyvals(iden, false)
    }

    /// Set a profile value; returns it.
    pub async fn set_user_profile(&self, iden: &str, name: &str, valu: Value) -> Result<Value> {
        self.set_keyval(iden, false, name, valu).await
    }

    /// Remove a profile value.
    pub async fn pop_user_profile(&self, iden: &str, name: &str) -> Result<Option<Value>> {
        self.pop_keyval(iden, false, name).await
    }

    /// A user's vars.
    pub fn user_vars(&self, iden: &str) -> Result<Arc<KeyVals>> {
        self.keyvals(iden, true)
    }

    /// Set a var; returns it.
    pub async fn set_user_var(&self, iden: &str, name: &str, valu: Value) -> Result<Value> {
        self.set_keyval(iden, true, name, valu).await
    }

    /// Remove a var.
    pub async fn pop_user_var(&self, iden: &str, name: &str) -> Result<Option<Value>> {
        self.pop_keyval(iden, true, name).await
    }

    // ----- API keys -----

    /// Create an API key for a user: `(key, kdef)`; the key text is shown only here.
    pub async fn add_api_key(
        &self,
        useriden: &str,
        name: &str,
        duration: Option<i64>,
    ) -> Result<(String, ApiKeyDef)> {
        self.req_user(useriden)?;
        if let Some(duration) = duration
            && duration < 1
        {
            return Err(
                Error::bad_arg("Duration must be equal or greater than 1").with("name", "duration")
            );
        }
        let (iden, token, shadow) = passwd::generate_api_key().await?;
        let now = synapse_base::now_ms();
        let kdef = ApiKeyDef {
            iden: iden.clone(),
            name: name.to_string(),
            user: useriden.to_string(),
            created: now,
            updated: now,
            expires: duration.map(|d| now.saturating_add(d)),
            shadow,
        };
        let stored = kdef.clone();
        self.mutate(|state, ops| {
            state.user(useriden)?;
            ops.push(StoreOp::put(DB_APIKEYS, uhex(&iden), uhex(useriden)));
            let mut row = uhex(useriden);
            row.extend_from_slice(b"apikey");
            row.extend(uhex(&iden));
            ops.push(StoreOp::put(DB_USERMETA, row, encode(&stored.to_stored())));
            state.apikeys.insert(iden.clone(), Arc::new(stored));
            Ok(())
        })
        .await?;
        Ok((token, kdef))
    }

    /// One API key's metadata.
    pub fn api_key(&self, iden: &str) -> Option<Arc<ApiKeyDef>> {
        self.snapshot().apikeys.get(iden).cloned()
    }

    /// A user's API keys.
    pub fn list_api_keys(&self, useriden: &str) -> Result<Vec<Arc<ApiKeyDef>>> {
        let state = self.snapshot();
        state.user(useriden)?;
        let mut keys: Vec<Arc<ApiKeyDef>> = state
            .apikeys
            .values()
            .filter(|k| k.user == useriden)
            .cloned()
            .collect();
        keys.sort_by(|a, b| a.iden.cmp(&b.iden));
        Ok(keys)
    }

    /// Every API key.
    pub fn api_keys(&self) -> Vec<Arc<ApiKeyDef>> {
        self.snapshot().apikeys.values().cloned().collect()
    }

    /// Rename an API key.
    pub async fn mod_api_key(&self, iden: &str, field: &str, valu: &Value) -> Result<ApiKeyDef> {
        if field != "name" {
            return Err(
                Error::bad_arg(format!("Cannot set {field} on user API keys.")).with("name", field),
            );
        }
        let name = crate::value::req_str(valu, "name")?;
        self.mutate(|state, ops| {
            let kdef = state.apikeys.get(iden).cloned().ok_or_else(|| {
                Error::new(
                    ErrKind::NoSuchIden,
                    format!("User API key does not exist, cannot modify it: {iden}"),
                )
                .with("iden", iden)
            })?;
            let mut kdef = (*kdef).clone();
            kdef.name = name;
            kdef.updated = synapse_base::now_ms();
            let mut row = uhex(&kdef.user);
            row.extend_from_slice(b"apikey");
            row.extend(uhex(iden));
            ops.push(StoreOp::put(DB_USERMETA, row, encode(&kdef.to_stored())));
            state
                .apikeys
                .insert(iden.to_string(), Arc::new(kdef.clone()));
            Ok(kdef)
        })
        .await
    }

    /// Delete an API key (`NoSuchIden` if unknown).
    pub async fn del_api_key(&self, iden: &str) -> Result<bool> {
        self.mutate(|state, ops| {
            let kdef = state.apikeys.get(iden).cloned().ok_or_else(|| {
                Error::new(
                    ErrKind::NoSuchIden,
                    format!("User API key does not exist: {iden}"),
                )
                .with("iden", iden)
            })?;
            ops.push(StoreOp::delete(DB_APIKEYS, uhex(iden)));
            let mut row = uhex(&kdef.user);
            row.extend_from_slice(b"apikey");
            row.extend(uhex(iden));
            ops.push(StoreOp::delete(DB_USERMETA, row));
            state.apikeys.remove(iden);
            Ok(true)
        })
        .await
    }

    /// Check an API key: `Ok((kdef, user))` or `Err(info)` with a `mesg` (and the user when
    /// known). Malformed, unknown, expired, mismatched and locked-user keys fail.
    pub async fn check_api_key(
        &self,
        key: &str,
    ) -> std::result::Result<(Arc<ApiKeyDef>, User), Vec<(String, Value)>> {
        let fail = |mesg: String| vec![("mesg".to_string(), Value::from(mesg))];
        let Ok((iden, secv)) = passwd::parse_api_key(key) else {
            return Err(fail("API key is malformed.".to_string()));
        };
        let Some(kdef) = self.api_key(&iden) else {
            return Err(fail(format!("API key does not exist: {iden}")));
        };
        let Some(user) = self.user(&kdef.user) else {
            let mut info = fail(format!("User does not exist for API key: {iden}"));
            info.push(("user".into(), Value::from(kdef.user.as_str())));
            return Err(info);
        };
        let with_user = |mesg: String| {
            vec![
                ("mesg".to_string(), Value::from(mesg)),
                ("user".to_string(), Value::from(user.iden.as_str())),
                ("name".to_string(), Value::from(user.name.as_str())),
            ]
        };
        if user.is_locked() {
            return Err(with_user(format!(
                "User associated with API key is locked: {iden}"
            )));
        }
        if kdef.expires.is_some_and(|exp| synapse_base::now_ms() > exp) {
            return Err(with_user(format!("API key is expired: {iden}")));
        }
        if !passwd::check_shadow(&secv, &kdef.shadow)
            .await
            .unwrap_or(false)
        {
            return Err(with_user(format!("API key shadow mismatch: {iden}")));
        }
        Ok((kdef, user))
    }
}

fn insert_at<T>(list: &mut Vec<T>, indx: Option<i64>, item: T) {
    match indx {
        None => list.push(item),
        Some(indx) => {
            // Python's list.insert: negative counts from the end, out of range clamps.
            let len = list.len() as i64;
            let pos = if indx < 0 {
                (len + indx).max(0)
            } else {
                indx.min(len)
            };
            list.insert(pos as usize, item);
        }
    }
}

#[cfg(test)]
mod tests;
