//! Permission checks of Storm edits: the reference's `User.getAllowedReason` and
//! `Cortex.confirmPropSet/Del` precedence rules, as the editor's [`EditPerms`] hook.

use synapse_cell::{Auth, Error, Rule, UserDef};

use crate::model::value::py_repr_str;
use crate::view::{EditPerm, EditPerms};

/// Why a permission check came out as it did (the reference's `_allowedReason`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedReason {
    /// Allowed, denied, or no rule matched (and no default).
    pub value: Option<bool>,
    /// The user is a global admin or an admin of the gate.
    pub isadmin: bool,
    /// The user is locked.
    pub islocked: bool,
    /// The value is the caller's default (no rule matched).
    pub default: bool,
    /// The path of the rule that matched (empty if none did).
    pub rule: Vec<String>,
}

fn matched(rule: &Rule) -> AllowedReason {
    AllowedReason {
        value: Some(rule.allow),
        rule: rule.path.clone(),
        ..AllowedReason::default()
    }
}

/// Check `perm` for `user` (on `gate`) and say which rule decided, in the reference's order:
/// locked, admin, the user's gate entry, the user's rules, the roles' gate rules, the roles'
/// rules, then `default`.
pub fn allowed_reason(
    auth: &Auth,
    user: &UserDef,
    perm: &[String],
    gate: Option<&str>,
    default: Option<bool>,
) -> AllowedReason {
    if user.is_locked() {
        return AllowedReason {
            value: Some(false),
            islocked: true,
            ..AllowedReason::default()
        };
    }
    if user.is_admin() {
        return AllowedReason {
            value: Some(true),
            isadmin: true,
            ..AllowedReason::default()
        };
    }
    if let Some(entry) = gate.and_then(|g| user.gate(g)) {
        if entry.is_admin() {
            return AllowedReason {
                value: Some(true),
                isadmin: true,
                ..AllowedReason::default()
            };
        }
        if let Some(rule) = entry.rules().iter().find(|r| r.matches(perm)) {
            return matched(rule);
        }
    }
    if let Some(rule) = user.rules.iter().find(|r| r.matches(perm)) {
        return matched(rule);
    }
    let roles = auth.user_roles(user);
    if let Some(gate) = gate {
        for role in &roles {
            if let Some(rule) = role
                .gate(gate)
                .and_then(|entry| entry.rules().iter().find(|r| r.matches(perm)))
            {
                return matched(rule);
            }
        }
    }
    for role in &roles {
        if let Some(rule) = role.rules.iter().find(|r| r.matches(perm)) {
            return matched(rule);
        }
    }
    AllowedReason {
        value: default,
        default: true,
        ..AllowedReason::default()
    }
}

/// The reference's `User.raisePermDeny`.
pub(crate) fn perm_deny(auth: &Auth, user: &UserDef, perm: &[String], gate: Option<&str>) -> Error {
    let text = perm.join(".");
    let mesg = match gate.and_then(|iden| auth.gate(iden)) {
        Some(gdef) => format!(
            "User {} ({}) must have permission {text} on object {} ({}).",
            py_repr_str(&user.name),
            user.iden,
            gdef.iden,
            gdef.typ
        ),
        None => format!(
            "User {} ({}) must have permission {text}",
            py_repr_str(&user.name),
            user.iden
        ),
    };
    Error::auth_deny(mesg, &user.iden, &user.name).with("perm", text.as_str())
}

/// The editor permission hook of one user writing to one layer (see
/// [`crate::cortex::Cortex::edit_perms`]).
#[derive(Clone)]
pub struct UserPerms {
    auth: Auth,
    user: String,
    gate: String,
}

impl std::fmt::Debug for UserPerms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPerms")
            .field("user", &self.user)
            .field("gate", &self.gate)
            .finish()
    }
}

impl UserPerms {
    /// The hook for user `user` (iden) writing to the layer `gate` (iden).
    pub fn new(auth: Auth, user: &str, gate: &str) -> Self {
        UserPerms {
            auth,
            user: user.to_owned(),
            gate: gate.to_owned(),
        }
    }

    /// Check one edit (the error is the reference's `AuthDeny`).
    pub fn confirm(&self, perm: &EditPerm<'_>) -> Result<(), Error> {
        let user = self.auth.req_user(&self.user)?;
        let gate = Some(self.gate.as_str());
        let path = perm.path();
        let Some(legacy) = perm.legacy_path() else {
            return self.auth.confirm(&user, &path, Some(false), gate);
        };
        // Cortex.confirmPropSet / confirmPropDel: the new name first, then the legacy name,
        // the more specific matching rule winning when they disagree.
        let new = allowed_reason(&self.auth, &user, &path, gate, None);
        if new.isadmin {
            return Ok(());
        }
        let old = allowed_reason(&self.auth, &user, &legacy, gate, None);
        match (new.value, old.value) {
            (Some(true), Some(true)) | (Some(true), None) => Ok(()),
            (Some(true), Some(false)) if new.rule.len() >= old.rule.len() => Ok(()),
            (None, Some(true)) => Ok(()),
            (Some(false), Some(true)) if old.rule.len() > new.rule.len() => Ok(()),
            _ => Err(perm_deny(&self.auth, &user, &path, gate)),
        }
    }
}

impl EditPerms for UserPerms {
    fn check(&self, perm: &EditPerm<'_>) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        self.confirm(perm).map_err(|err| Box::new(err) as _)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_reprs() {
        assert_eq!(py_repr_str("visi"), "'visi'");
        assert_eq!(py_repr_str("o'neil"), "\"o'neil\"");
        assert_eq!(py_repr_str("a'b\"c"), "'a\\'b\"c'");
        assert_eq!(py_repr_str("tab\there"), "'tab\\there'");
    }
}
