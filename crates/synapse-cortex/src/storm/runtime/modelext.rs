//! `$lib.model.ext`: extending the data model from Storm (the reference's
//! `synapse.lib.stormlib.modelext`), with its permission checks (`model.form.add.<form>`,
//! `model.prop.add.<form>`, `model.univ.add`, `model.tagprop.add`, and the `del` ones) and the
//! `force` option of the removals (the property is first deleted from every node).

use std::sync::Arc;

use rmpv::Value;

use super::error::{Flow, RResult, StormError};
use super::ext::{Args, cell_err, cortex, nosuchname};
use super::runt::Runt;
use super::value::{Obj, Val};

/// The functions of `$lib.model.ext`.
pub(crate) const LIB_FUNCS: &[&str] = &[
    "addForm",
    "addFormProp",
    "addUnivProp",
    "addTagProp",
    "delForm",
    "delFormProp",
    "delUnivProp",
    "delTagProp",
    "getExtModel",
    "addExtModel",
    "addEdge",
    "delEdge",
    "addType",
    "delType",
];

/// Whether `verb` is a valid edge verb for the library (the reference's `isEdgeVerb` and
/// Python's `islower`).
fn is_lower_edge_verb(verb: &str) -> bool {
    let word = verb.chars().count() <= 200
        && !verb.is_empty()
        && verb
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == ':');
    word && verb.chars().any(char::is_alphabetic) && !verb.chars().any(char::is_uppercase)
}

fn bad_prop_name(key: &str, name: &str) -> Flow {
    Flow::Err(StormError::new("BadPropDef", format!("Invalid prop name {name}")).with(key, name))
}

/// Call a function of `$lib.model.ext`.
pub(crate) async fn call_lib(
    runt: &Arc<Runt>,
    name: &str,
    args: &[Val],
    kwargs: &[(String, Val)],
) -> RResult<Val> {
    let args = Args::new(name, args, kwargs);
    let core = cortex(runt)?;
    let user = runt.shared.user.iden.clone();
    match name {
        "addForm" => {
            let form = args.req(0, "formname")?.to_str()?;
            let base = args.req(1, "basetype")?.to_str()?;
            let opts = args.req(2, "typeopts")?.to_msgpack()?;
            let info = args.req(3, "typeinfo")?.to_msgpack()?;
            runt.confirm(&["model", "form", "add", &form], None)?;
            core.add_form(&form, &base, &opts, &info)
                .await
                .map_err(cell_err)?;
        }
        "addFormProp" => {
            let form = args.req(0, "formname")?.to_str()?;
            let prop = args.req(1, "propname")?.to_str()?;
            let tdef = args.req(2, "typedef")?.to_msgpack()?;
            let info = args.req(3, "propinfo")?.to_msgpack()?;
            runt.confirm(&["model", "prop", "add", &form], None)?;
            if !crate::cortex::is_base_prop_name(&prop) {
                return Err(bad_prop_name("prop", &prop));
            }
            core.add_form_prop(&form, &prop, &tdef, &info)
                .await
                .map_err(cell_err)?;
        }
        "addUnivProp" | "addTagProp" => {
            let prop = args.req(0, "propname")?.to_str()?;
            let tdef = args.req(1, "typedef")?.to_msgpack()?;
            let info = args.req(2, "propinfo")?.to_msgpack()?;
            let kind = if name == "addUnivProp" {
                "univ"
            } else {
                "tagprop"
            };
            runt.confirm(&["model", kind, "add"], None)?;
            if !crate::cortex::is_base_prop_name(&prop) {
                return Err(bad_prop_name("name", &prop));
            }
            let res = if name == "addUnivProp" {
                core.add_univ_prop(&prop, &tdef, &info).await
            } else {
                core.add_tagprop(&prop, &tdef, &info).await
            };
            res.map_err(cell_err)?;
        }
        "addType" => {
            let tname = args.req(0, "typename")?.to_str()?;
            let base = args.req(1, "basetype")?.to_str()?;
            let opts = args.req(2, "typeopts")?.to_msgpack()?;
            let info = args.req(3, "typeinfo")?.to_msgpack()?;
            runt.confirm(&["model", "type", "add", &tname], None)?;
            core.add_type(&tname, &base, &opts, &info)
                .await
                .map_err(cell_err)?;
        }
        "delType" => {
            let tname = args.req(0, "typename")?.to_str()?;
            runt.confirm(&["model", "type", "del", &tname], None)?;
            core.del_type(&tname).await.map_err(cell_err)?;
        }
        "delForm" => {
            let form = args.req(0, "formname")?.to_str()?;
            runt.confirm(&["model", "form", "del", &form], None)?;
            core.del_form(&form).await.map_err(cell_err)?;
        }
        "delFormProp" => {
            let form = args.req(0, "formname")?.to_str()?;
            let prop = args.req(1, "propname")?.to_str()?;
            let force = args.bool(2, "force", false);
            runt.confirm(&["model", "prop", "del", &form], None)?;
            if force {
                if core.model().ext_prop_decl(&form, &prop).is_none() {
                    let full = format!("{form}:{prop}");
                    return Err(Flow::Err(
                        StormError::new("NoSuchProp", format!("No ext prop named {full}"))
                            .with("form", form.as_str())
                            .with("prop", prop.as_str()),
                    ));
                }
                core.del_prop_everywhere(Some(&form), &prop, &user)
                    .await
                    .map_err(cell_err)?;
            }
            core.del_form_prop(&form, &prop).await.map_err(cell_err)?;
        }
        "delUnivProp" => {
            let prop = args.req(0, "propname")?.to_str()?;
            let force = args.bool(1, "force", false);
            runt.confirm(&["model", "univ", "del"], None)?;
            if force {
                if core.model().ext_univ_decl(&prop).is_none() {
                    return Err(Flow::Err(
                        StormError::new("NoSuchUniv", format!("No ext univ named {prop}"))
                            .with("name", prop.as_str()),
                    ));
                }
                core.del_prop_everywhere(None, &format!(".{prop}"), &user)
                    .await
                    .map_err(cell_err)?;
            }
            core.del_univ_prop(&prop).await.map_err(cell_err)?;
        }
        "delTagProp" => {
            let prop = args.req(0, "propname")?.to_str()?;
            let force = args.bool(1, "force", false);
            runt.confirm(&["model", "tagprop", "del"], None)?;
            if force {
                if !core.model().tagprops().contains_key(&prop) {
                    return Err(Flow::Err(
                        StormError::new("NoSuchTagProp", format!("No tag prop named {prop}"))
                            .with("name", prop.as_str()),
                    ));
                }
                core.del_tagprop_everywhere(&prop, &user)
                    .await
                    .map_err(cell_err)?;
            }
            core.del_tagprop(&prop).await.map_err(cell_err)?;
        }
        "getExtModel" => {
            let model = core.get_ext_model().await.map_err(cell_err)?;
            return Ok(Val::from_msgpack(&model));
        }
        "addExtModel" => {
            if !(runt.asroot || runt.shared.user.admin) {
                return Err(Flow::Err(
                    StormError::new("AuthDeny", "This action requires global admin permissions.")
                        .with("user", runt.shared.user.iden.as_str())
                        .with("username", runt.shared.user.name.as_str()),
                ));
            }
            let model = args.req(0, "model")?.to_msgpack()?;
            let done = core.add_ext_model(&model).await.map_err(cell_err)?;
            return Ok(Val::Bool(done));
        }
        "addEdge" | "delEdge" => {
            let form = |idx: usize, key: &str| -> RResult<Value> {
                match args.req(idx, key)? {
                    Val::Null => Ok(Value::Nil),
                    other => {
                        let text = other.to_str()?;
                        Ok(if text == "*" {
                            Value::Nil
                        } else {
                            Value::from(text)
                        })
                    }
                }
            };
            let n1form = form(0, "n1form")?;
            let verb = args.req(1, "verb")?.to_str()?;
            let n2form = form(2, "n2form")?;
            let info = match name {
                "addEdge" => Some(args.req(3, "edgeinfo")?.to_msgpack()?),
                _ => None,
            };
            if !is_lower_edge_verb(&verb) {
                return Err(Flow::Err(
                    StormError::new("BadEdgeDef", format!("Invalid edge verb {verb}"))
                        .with("n1form", n1form.clone())
                        .with("verb", verb.as_str())
                        .with("n2form", n2form.clone()),
                ));
            }
            let edge = Value::Array(vec![n1form, Value::from(verb), n2form]);
            match info {
                Some(info) => {
                    runt.confirm(&["model", "edge", "add"], None)?;
                    core.add_edge(&edge, &info).await.map_err(cell_err)?;
                }
                None => {
                    runt.confirm(&["model", "edge", "del"], None)?;
                    core.del_edge(&edge).await.map_err(cell_err)?;
                }
            }
        }
        _ => return Err(nosuchname(name)),
    }
    Ok(Val::Null)
}

/// Attributes of the model objects (`model:form`: `name`, `type`; `model:property`: `name`,
/// `full`, `form`, `type`; `model:type`: `name`, `stortype`, `opts`), for built-in and
/// extended elements alike.
pub(crate) fn model_attr(runt: &Runt, obj: &Obj, name: &str) -> Option<Val> {
    let model = runt.model();
    let type_obj = |tname: &str| Val::Obj(Arc::new(Obj::ModelType(tname.to_owned())));
    match obj {
        Obj::ModelForm(fname) => {
            let form = model.form(fname)?;
            match name {
                "name" => Some(Val::from(form.name())),
                "type" => Some(type_obj(form.ty().name())),
                _ => None,
            }
        }
        Obj::ModelProp(full) => {
            let prop = model.prop(full)?;
            match name {
                "name" => Some(Val::from(prop.name())),
                "full" => Some(Val::from(prop.full())),
                "type" => Some(type_obj(prop.ty().name())),
                "form" => Some(match prop.form() {
                    Some(form) => Val::Obj(Arc::new(Obj::ModelForm(form.name().to_owned()))),
                    None => Val::Null,
                }),
                _ => None,
            }
        }
        Obj::ModelType(tname) => {
            let ty = model.ty(tname)?;
            match name {
                "name" => Some(Val::from(ty.name())),
                "stortype" => Some(Val::Int(i128::from(ty.stortype()))),
                "mutable" => Some(Val::Bool(ty.is_mutable())),
                "opts" => Some(Val::from_msgpack(&synapse_cell::from_json(
                    &serde_json::Value::Object(ty.opts().clone()),
                ))),
                _ => None,
            }
        }
        _ => None,
    }
}
