//! Render our syntax tree the way the reference prints its own (`str(Parser(text).query())`),
//! so the two trees can be compared text to text.

use synapse_cortex::storm::ast::*;

/// The reference's `str()` of a parsed query.
pub(crate) fn query(q: &Query) -> String {
    format!("Query: [{}]", opers(&q.opers))
}

fn opers(opers: &[Oper]) -> String {
    opers.iter().map(oper).collect::<Vec<_>>().join(", ")
}

fn node(name: &str, kids: &[String]) -> String {
    format!("{name}: [{}]", kids.join(", "))
}

fn konst(text: impl AsRef<str>) -> String {
    format!("Const: {}", text.as_ref())
}

fn pivot(name: &str, kids: &[String], join: bool) -> String {
    format!(
        "{}, isjoin={}",
        node(name, kids),
        if join { "True" } else { "False" }
    )
}

fn oper(op: &Oper) -> String {
    match &op.kind {
        OperKind::Lift(lift) => self::lift(lift),
        OperKind::Filter { must, cond } => node(
            "FiltOper",
            &[konst(if *must { "+" } else { "-" }), self::cond(cond)],
        ),
        OperKind::Pivot(piv) => self::pivot_oper(piv),
        OperKind::EdgeWalk(walk) => {
            let mut kids = vec![value(&walk.verb), value(&walk.dest)];
            if let Some(cmp) = &walk.cmp {
                kids.push(konst(&cmp.cmpr.text));
                kids.push(value(&cmp.value));
            }
            pivot(
                if walk.reverse { "N2Walk" } else { "N1Walk" },
                &kids,
                walk.join,
            )
        }
        OperKind::Edit(edit) => self::edit(edit),
        OperKind::Cmd(cmd) => {
            let args = if cmd.args.is_empty() {
                konst("()")
            } else {
                format!(
                    "List: [{}]",
                    cmd.args.iter().map(value).collect::<Vec<_>>().join(", ")
                )
            };
            node("CmdOper", &[konst(&cmd.name), args])
        }
        OperKind::SetVar { name, value: v } => node("SetVarOper", &[konst(name), value(v)]),
        OperKind::SetItem {
            target,
            key,
            value: v,
        } => node("SetItemOper", &[value(target), value(key), value(v)]),
        OperKind::SetVarList { names, value: v } => {
            node("VarListSetOper", &[varlist(names), value(v)])
        }
        OperKind::VarEval(v) => node("VarEvalOper", &[value(v)]),
        OperKind::SubQuery(sub) => node("SubQuery", &[query(&sub.query)]),
        OperKind::YieldValue(v) => node("YieldValu", &[value(v)]),
        OperKind::For { vars, iter, body } => {
            let vars = match vars {
                ForVars::One(name) => konst(name),
                ForVars::Many(names) => varlist(names),
            };
            node(
                "ForLoop",
                &[vars, value(iter), node("SubQuery", &[query(&body.query)])],
            )
        }
        OperKind::While { cond, body } => node(
            "WhileLoop",
            &[value(cond), node("SubQuery", &[query(&body.query)])],
        ),
        OperKind::If { clauses, otherwise } => {
            let mut kids: Vec<String> = clauses
                .iter()
                .map(|clause| {
                    node(
                        "IfClause",
                        &[
                            value(&clause.cond),
                            node("SubQuery", &[query(&clause.body.query)]),
                        ],
                    )
                })
                .collect();
            if let Some(body) = otherwise {
                kids.push(node("SubQuery", &[query(&body.query)]));
            }
            node("IfStmt", &kids)
        }
        OperKind::Switch { value: v, cases } => {
            let mut kids = vec![value(v)];
            for case in cases {
                let mut ckids: Vec<String> = case.values.iter().map(konst).collect();
                ckids.push(node("SubQuery", &[query(&case.body.query)]));
                kids.push(node("CaseEntry", &ckids));
            }
            node("SwitchCase", &kids)
        }
        OperKind::Try { body, catches } => {
            let mut kids = vec![query(body)];
            for catch in catches {
                kids.push(node(
                    "CatchBlock",
                    &[value(&catch.errors), konst(&catch.var), query(&catch.body)],
                ));
            }
            node("TryCatch", &kids)
        }
        OperKind::Break => "BreakOper: []".into(),
        OperKind::Continue => "ContinueOper: []".into(),
        OperKind::Stop => "Stop: []".into(),
        OperKind::Return(v) => node("Return", &v.iter().map(value).collect::<Vec<_>>()),
        OperKind::Emit(v) => node("Emit", &[value(v)]),
        OperKind::Function(func) => {
            let params: Vec<String> = func
                .params
                .iter()
                .map(|param| match &param.default {
                    Some(default) => node("CallKwarg", &[konst(&param.name), value(default)]),
                    None => konst(&param.name),
                })
                .collect();
            node(
                "Function",
                &[
                    konst(&func.name),
                    node("FuncArgs", &params),
                    query(&func.body),
                ],
            )
        }
        OperKind::Init(q) => node("InitBlock", &[query(q)]),
        OperKind::Fini(q) => node("FiniBlock", &[query(q)]),
        OperKind::Empty(q) => node("EmptyBlock", &[query(q)]),
    }
}

fn varlist(names: &[String]) -> String {
    let items: Vec<String> = names.iter().map(|name| py_str_repr(name)).collect();
    format!("VarList: [{}]", items.join(", "))
}

/// Python's repr() of a string (close enough for names).
fn py_str_repr(text: &str) -> String {
    if text.contains('\'') && !text.contains('"') {
        format!("\"{text}\"")
    } else {
        format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

fn propref(prop: &PropRef) -> String {
    match prop {
        PropRef::Name(name, _) => konst(name),
        PropRef::Deref(v) => node("DerefProps", &[value(v)]),
    }
}

fn namepart(part: &NamePart) -> String {
    match part {
        NamePart::Name(name, _) => konst(name),
        NamePart::Value(v) => value(v),
    }
}

fn tagname(name: &str, tag: &TagName) -> String {
    match &tag.kind {
        TagNameKind::All => format!("{name}: []"),
        TagNameKind::Value(v) => node(name, &[value(v)]),
        TagNameKind::Segments(segs) => node(
            name,
            &segs
                .iter()
                .map(|seg| match seg {
                    TagSegment::Text(text, _) => konst(text),
                    TagSegment::Var(var, _) => node("VarValue", &[konst(var)]),
                })
                .collect::<Vec<_>>(),
        ),
    }
}

fn tagprop(prop: &TagProp) -> String {
    node(
        "TagProp",
        &[tagname("TagName", &prop.tag), namepart(&prop.prop)],
    )
}

fn relprop(prop: &RelProp) -> String {
    node("RelProp", &[namepart(&prop.name)])
}

fn univprop(prop: &UnivProp) -> String {
    node("UnivProp", &[namepart(&prop.name)])
}

fn proppath(prop: &PropPath) -> String {
    match prop {
        PropPath::Rel(rel) => relprop(rel),
        PropPath::Univ(univ) => univprop(univ),
    }
}

fn cmp_kids(kids: &mut Vec<String>, cmp: &Option<Comparison>) {
    if let Some(cmp) = cmp {
        kids.push(konst(&cmp.cmpr.text));
        kids.push(value(&cmp.value));
    }
}

fn lift(lift: &Lift) -> String {
    match &lift.kind {
        LiftKind::Prop { prop } => node("LiftProp", &[propref(prop)]),
        LiftKind::PropBy { prop, cmp } => node(
            "LiftPropBy",
            &[propref(prop), konst(&cmp.cmpr.text), value(&cmp.value)],
        ),
        LiftKind::Array { prop, cmp } => node(
            "LiftByArray",
            &[propref(prop), konst(&cmp.cmpr.text), value(&cmp.value)],
        ),
        LiftKind::FormTag { form, tag, cmp } => {
            let mut kids = vec![propref(form), tagname("TagName", tag)];
            cmp_kids(&mut kids, cmp);
            node("LiftFormTag", &kids)
        }
        LiftKind::Tag { tag, cmp } => {
            let mut kids = vec![tagname("TagName", tag)];
            cmp_kids(&mut kids, cmp);
            node("LiftTag", &kids)
        }
        LiftKind::TagTag { tag, cmp } => {
            let mut kids = vec![tagname("TagName", tag)];
            cmp_kids(&mut kids, cmp);
            node("LiftTagTag", &kids)
        }
        LiftKind::TagProp { tag, prop, cmp } => {
            let mut kids = vec![node("TagProp", &[tagname("TagName", tag), namepart(prop)])];
            cmp_kids(&mut kids, cmp);
            node("LiftTagProp", &kids)
        }
        LiftKind::FormTagProp {
            form,
            tag,
            prop,
            cmp,
        } => {
            let mut kids = vec![node(
                "FormTagProp",
                &[propref(form), tagname("TagName", tag), namepart(prop)],
            )];
            cmp_kids(&mut kids, cmp);
            node("LiftFormTagProp", &kids)
        }
    }
}

fn cond(cond: &Cond) -> String {
    match &cond.kind {
        CondKind::Not(inner) => node("NotCond", &[self::cond(inner)]),
        CondKind::And(lhs, rhs) => node("AndCond", &[self::cond(lhs), self::cond(rhs)]),
        CondKind::Or(lhs, rhs) => node("OrCond", &[self::cond(lhs), self::cond(rhs)]),
        CondKind::HasRelProp(prop) => node("HasRelPropCond", &[proppath(prop)]),
        CondKind::RelPropCmp { prop, cmp } => node(
            "RelPropCond",
            &[
                node("RelPropValue", &[proppath(prop)]),
                konst(&cmp.cmpr.text),
                value(&cmp.value),
            ],
        ),
        CondKind::HasAbsProp(prop, _) => node("HasAbsPropCond", &[konst(prop)]),
        CondKind::AbsPropCmp { prop, cmp, .. } => node(
            "AbsPropCond",
            &[konst(prop), konst(&cmp.cmpr.text), value(&cmp.value)],
        ),
        CondKind::Tag(tag) => node("TagCond", &[tagname("TagMatch", tag)]),
        CondKind::TagCmp { tag, cmp } => node(
            "TagValuCond",
            &[
                tagname("TagMatch", tag),
                konst(&cmp.cmpr.text),
                value(&cmp.value),
            ],
        ),
        CondKind::HasTagProp { tag, prop } => node(
            "HasTagPropCond",
            &[tagname("TagMatch", tag), namepart(prop)],
        ),
        CondKind::TagPropCmp { tag, prop, cmp } => node(
            "TagPropCond",
            &[
                tagname("TagMatch", tag),
                namepart(prop),
                konst(&cmp.cmpr.text),
                value(&cmp.value),
            ],
        ),
        CondKind::SubQuery { query: q, cmp } => {
            let mut kids = vec![query(q)];
            cmp_kids(&mut kids, cmp);
            node("SubqCond", &kids)
        }
        CondKind::Array { prop, cmp } => node(
            "ArrayCond",
            &[relprop(prop), konst(&cmp.cmpr.text), value(&cmp.value)],
        ),
        CondKind::Value(v) => value(v),
    }
}

fn pivot_oper(piv: &Pivot) -> String {
    let join = piv.join;
    match &piv.kind {
        PivotKind::Out => pivot("PivotOut", &[], join),
        PivotKind::ToForm(target) => pivot("FormPivot", &[pivot_target(target)], join),
        PivotKind::ToTags(None) => pivot("PivotToTags", &["TagMatch: []".into()], join),
        PivotKind::ToTags(Some(tag)) => pivot("PivotToTags", &[tagname("TagMatch", tag)], join),
        PivotKind::In => pivot("PivotIn", &[], join),
        PivotKind::InFrom(form, _) => pivot("PivotInFrom", &[konst(form)], join),
        PivotKind::PropOut(prop) => pivot("PropPivotOut", &[relprop(prop)], join),
        PivotKind::Prop { prop, target } => pivot(
            "PropPivot",
            &[node("RelPropValue", &[relprop(prop)]), pivot_target(target)],
            join,
        ),
        PivotKind::WalkAllOut => pivot("N1WalkNPivo", &[], join),
        PivotKind::WalkAllIn => pivot("N2WalkNPivo", &[], join),
        PivotKind::Raw(q) => pivot("RawPivot", &[query(q)], join),
    }
}

fn pivot_target(target: &PivotTarget) -> String {
    match target {
        PivotTarget::Name(name, _) => konst(name),
        PivotTarget::Value(v) => value(v),
    }
}

fn set_oper_kids(kids: &mut Vec<String>, oper: SetOper, v: &Value) {
    kids.push(konst(oper.as_str()));
    kids.push(value(v));
}

fn edit(edit: &Edit) -> String {
    match &edit.kind {
        EditKind::NodeAdd {
            form,
            oper,
            value: v,
        } => {
            let mut kids = vec![node("FormName", &[propref(form)])];
            set_oper_kids(&mut kids, *oper, v);
            node("EditNodeAdd", &kids)
        }
        EditKind::Parens { add, edits } => {
            let mut kids = vec![self::edit(add)];
            kids.extend(edits.iter().map(self::edit));
            node("EditParens", &kids)
        }
        EditKind::PropSet {
            prop,
            oper,
            value: v,
        } => {
            let mut kids = vec![proppath(prop)];
            set_oper_kids(&mut kids, *oper, v);
            let multi = matches!(
                oper,
                SetOper::AddMany
                    | SetOper::RemoveMany
                    | SetOper::TryAddMany
                    | SetOper::TryRemoveMany
            );
            node(
                if multi {
                    "EditPropSetMulti"
                } else {
                    "EditPropSet"
                },
                &kids,
            )
        }
        EditKind::CondPropSet {
            prop,
            cond,
            value: v,
            ..
        } => {
            let cond = match cond {
                SetCondition::Unset => node("CondSetOper", &[konst("unset")]),
                SetCondition::Value(v) => node("CondSetOper", &[value(v)]),
            };
            node("EditCondPropSet", &[relprop(prop), cond, value(v)])
        }
        EditKind::PropDel(prop) => node("EditPropDel", &[relprop(prop)]),
        EditKind::UnivDel(prop) => node("EditUnivDel", &[univprop(prop)]),
        EditKind::TagAdd {
            try_add,
            tag,
            value: v,
        } => {
            let mut kids = Vec::new();
            if *try_add {
                kids.push(konst("?"));
            }
            kids.push(tagname("TagName", tag));
            if let Some((oper, v)) = v {
                set_oper_kids(&mut kids, *oper, v);
            }
            node("EditTagAdd", &kids)
        }
        EditKind::TagDel(tag) => node("EditTagDel", &[tagname("TagName", tag)]),
        EditKind::TagPropSet {
            prop,
            oper,
            value: v,
        } => {
            let mut kids = vec![tagprop(prop)];
            set_oper_kids(&mut kids, *oper, v);
            node("EditTagPropSet", &kids)
        }
        EditKind::TagPropDel(prop) => node("EditTagPropDel", &[tagprop(prop)]),
        EditKind::EdgeAdd { verb, target, .. } => {
            node("EditEdgeAdd", &[value(verb), value(target)])
        }
        EditKind::EdgeDel { verb, target, .. } => {
            node("EditEdgeDel", &[value(verb), value(target)])
        }
    }
}

/// Python's `str()` of a `Decimal` parsed from a literal without an exponent.
fn decimal_str(text: &str) -> String {
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = format!("{int}{frac}");
    let coeff = digits.trim_start_matches('0');
    let coeff = if coeff.is_empty() { "0" } else { coeff };
    let exp = -(frac.len() as i64);
    let leftdigits = exp + coeff.len() as i64;
    let dotplace = if exp <= 0 && leftdigits > -6 {
        leftdigits
    } else {
        1
    };
    let (intpart, fracpart) = if dotplace <= 0 {
        (
            "0".to_string(),
            format!(".{}{coeff}", "0".repeat((-dotplace) as usize)),
        )
    } else if dotplace as usize >= coeff.len() {
        (
            format!("{coeff}{}", "0".repeat(dotplace as usize - coeff.len())),
            String::new(),
        )
    } else {
        (
            coeff[..dotplace as usize].to_string(),
            format!(".{}", &coeff[dotplace as usize..]),
        )
    };
    let expstr = if leftdigits == dotplace {
        String::new()
    } else {
        format!("E{:+}", leftdigits - dotplace)
    };
    format!("{sign}{intpart}{fracpart}{expstr}")
}

fn value(v: &Value) -> String {
    match &v.kind {
        ValueKind::Str(text) => konst(text),
        ValueKind::Int(num) => konst(num.to_string()),
        ValueKind::BigInt(text) => konst(text),
        ValueKind::Number(text) => konst(decimal_str(text)),
        ValueKind::Bool(flag) => format!("Bool: {}", if *flag { "True" } else { "False" }),
        ValueKind::Null => konst("None"),
        ValueKind::List(items) => format!(
            "List: [{}]",
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        ),
        ValueKind::ExprList(items) => {
            node("ExprList", &items.iter().map(value).collect::<Vec<_>>())
        }
        ValueKind::ExprDict(pairs) => node(
            "ExprDict",
            &pairs
                .iter()
                .flat_map(|(k, val)| [value(k), value(val)])
                .collect::<Vec<_>>(),
        ),
        ValueKind::Var(name) => node("VarValue", &[konst(name)]),
        ValueKind::Deref { base, key } => node("VarDeref", &[value(base), value(key)]),
        ValueKind::Call { func, args, kwargs } => node(
            "FuncCall",
            &[
                value(func),
                node("CallArgs", &args.iter().map(value).collect::<Vec<_>>()),
                node(
                    "CallKwargs",
                    &kwargs
                        .iter()
                        .map(|kw| node("CallKwarg", &[konst(&kw.name), value(&kw.value)]))
                        .collect::<Vec<_>>(),
                ),
            ],
        ),
        ValueKind::DollarExpr(inner) => node("DollarExpr", &[value(inner)]),
        ValueKind::Binary { op, lhs, rhs } => {
            node("ExprNode", &[value(lhs), konst(op.as_str()), value(rhs)])
        }
        ValueKind::Unary { op, operand } => {
            let op = match op {
                UnaryOp::Neg => "-",
                UnaryOp::Not => "not",
            };
            node("UnaryExprNode", &[konst(op), value(operand)])
        }
        ValueKind::And(lhs, rhs) => node("ExprAndNode", &[value(lhs), konst("and"), value(rhs)]),
        ValueKind::Or(lhs, rhs) => node("ExprOrNode", &[value(lhs), konst("or"), value(rhs)]),
        ValueKind::RelPropValue(prop) => node("RelPropValue", &[namepart(&prop.name)]),
        // the reference wraps the prop in `UnivProp` outside expressions; the comparison
        // normalizes that wrapper away
        ValueKind::UnivPropValue(prop) => node("UnivPropValue", &[namepart(&prop.name)]),
        ValueKind::TagValue(tag) => node("TagValue", &[tagname("TagName", tag)]),
        ValueKind::TagPropValue(prop) => node("TagPropValue", &[tagprop(prop)]),
        ValueKind::FormatString(parts) => {
            node("FormatString", &parts.iter().map(value).collect::<Vec<_>>())
        }
        ValueKind::EmbedQuery { text, .. } => format!("EmbedQuery: {text}"),
        ValueKind::SubQuery(sub) => node("SubQuery", &[query(&sub.query)]),
        ValueKind::ArgvQuery { query: q, .. } => node("ArgvQuery", &[query(q)]),
        ValueKind::VarList(names) => varlist(names),
    }
}

/// Remove the `UnivProp: [...]` wrapper directly inside `UnivPropValue: [...]` in a reference
/// rendering (the reference only adds it outside expressions).
pub(crate) fn normalize(reference: &str) -> String {
    const WRAPPED: &str = "UnivPropValue: [UnivProp: [";
    let mut out = reference.to_string();
    while let Some(idx) = out.find(WRAPPED) {
        let inner_start = idx + WRAPPED.len();
        // find the bracket closing the `UnivProp: [`
        let mut depth = 1usize;
        let mut close = None;
        for (offs, chr) in out[inner_start..].char_indices() {
            match chr {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(inner_start + offs);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(close) = close else { break };
        out.replace_range(close..close + 1, "");
        out.replace_range(idx..inner_start, "UnivPropValue: [");
    }
    out
}
