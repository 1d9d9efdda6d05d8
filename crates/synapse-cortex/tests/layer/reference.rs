//! Lifts and auto-added nodes compared with the reference: the same node definitions are
//! added to a reference Cortex (through `addNodes`) and to a view (through the editor), then
//! the same lifts must return the same nodes in the same order.

use std::process::{Command, Stdio};

use rmpv::Value;
use serde_json::{Value as Json, json};
use synapse_cortex::node::Node;
use synapse_cortex::view::{NodeStream, View};

use super::util::{editor, nodes, open, s};

fn ref_python() -> String {
    match std::env::var("SYNAPSE_REF_PYTHON") {
        Ok(path) if !path.is_empty() => path,
        _ => panic!(
            "SYNAPSE_REF_PYTHON is not set: run `cargo xtask ref-env` (or export it) to run the reference comparisons"
        ),
    }
}

fn to_json(valu: &Value) -> Json {
    match valu {
        Value::Nil => Json::Null,
        Value::Boolean(b) => json!(b),
        Value::Integer(i) => match (i.as_i64(), i.as_u64()) {
            (Some(v), _) => json!(v),
            (_, Some(v)) => json!(v),
            _ => Json::Null,
        },
        Value::F64(f) => json!(f),
        Value::F32(f) => json!(f),
        Value::String(t) => json!(t.as_str().unwrap_or_default()),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(items) => Json::Object(
            items
                .iter()
                .map(|(k, v)| (k.as_str().unwrap_or_default().to_owned(), to_json(v)))
                .collect(),
        ),
        other => json!(other.to_string()),
    }
}

fn to_value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => Value::F64(n.as_f64().unwrap_or_default()),
        },
        Json::String(t) => Value::from(t.as_str()),
        Json::Array(items) => Value::Array(items.iter().map(to_value).collect()),
        Json::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), to_value(v)))
                .collect(),
        ),
    }
}

fn ndef_json(node: &Node) -> Json {
    json!([node.form, to_json(&node.valu)])
}

fn node_json(node: &Node) -> Json {
    let props: serde_json::Map<String, Json> = node
        .props
        .iter()
        .filter(|(n, _)| n != ".created")
        .map(|(n, v)| (n.clone(), to_json(v)))
        .collect();
    let tags: serde_json::Map<String, Json> = node
        .tags
        .iter()
        .map(|(n, (a, b))| (n.clone(), json!([a, b])))
        .collect();
    json!([node.form, to_json(&node.valu), props, tags])
}

enum Lift {
    Prop(&'static str, bool),
    Valu(&'static str, &'static str, Json),
    Array(&'static str, &'static str, Json),
    Tag(&'static str, Option<&'static str>),
    TagValu(&'static str, &'static str, Json),
}

fn run(view: &View, lift: &Lift) -> NodeStream {
    match lift {
        Lift::Prop(full, back) => view.lift_prop(full, *back).unwrap(),
        Lift::Valu(full, cmpr, valu) => view
            .lift_prop_valu(full, cmpr, &to_value(valu), false)
            .unwrap(),
        Lift::Array(full, cmpr, valu) => view
            .lift_prop_array(full, cmpr, &to_value(valu), false)
            .unwrap(),
        Lift::Tag(tag, form) => view.lift_tag(tag, *form, false).unwrap(),
        Lift::TagValu(tag, cmpr, valu) => view
            .lift_tag_valu(tag, None, cmpr, &to_value(valu), false)
            .unwrap(),
    }
}

#[tokio::test]
async fn lifts_and_autoadds_match_the_reference() {
    let nodedefs = json!([
        [["inet:ipv4", "1.2.3.4"], {"props": {"asn": 10}, "tags": {"foo.bar": ["2020", "2021"]}}],
        [["inet:ipv4", "5.6.7.8"], {"props": {"asn": 20}, "tags": {"foo": [null, null]}}],
        [["inet:ipv4", "0.0.0.1"], {}],
        [["inet:ipv4", "255.255.255.255"], {"props": {"asn": 30}, "tags": {"foo.baz": ["2019", "2019-06"]}}],
        [["inet:dns:a", ["www.vertex.link", "1.2.3.4"]], {}],
        [["inet:fqdn", "woot.com"], {"tags": {"foo.bar": ["2022", "2022"]}}],
        [["inet:email", "visi@vertex.link"], {}],
        [["ps:contact", "d41d8cd98f00b204e9800998ecf8427e"], {"props": {"emails": ["c@d.com", "a@b.com", "a@b.com"], "name": "visi kenshoto"}}],
        [["it:dev:str", "Hehe Haha"], {}],
        [["inet:ipv6", "::1"], {}],
        [["inet:ipv6", "2001:db8::1"], {}],
        [["inet:ipv6", "::ffff:1.2.3.4"], {}],
        [["biz:stake", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"], {"props": {"percent": "1.5"}}],
        [["biz:stake", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"], {"props": {"percent": "10"}}],
        [["biz:stake", "cccccccccccccccccccccccccccccccc"], {"props": {"percent": "0.25"}}],
        [["geo:place", "cccccccccccccccccccccccccccccccc"], {"props": {"latlong": "10.5,-20.25", "loc": "us.ca.la"}}],
        [["geo:place", "dddddddddddddddddddddddddddddddd"], {"props": {"latlong": "-5,100", "loc": "us.cal"}}],
        [["media:news", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"], {"props": {"published": "2020-01-02", "title": "Hello World"}}],
        [["media:news", "ffffffffffffffffffffffffffffffff"], {"props": {"published": "2021-05-02", "title": "other news"}}],
        [["inet:url", "https://www.vertex.link/a?b=c"], {}]
    ]);
    let lifts: Vec<(&str, Lift)> = vec![
        ("inet:ipv4", Lift::Prop("inet:ipv4", false)),
        ("reverse(inet:ipv4)", Lift::Prop("inet:ipv4", true)),
        (
            "inet:ipv4:asn>10",
            Lift::Valu("inet:ipv4:asn", ">", json!(10)),
        ),
        (
            "inet:ipv4:asn<=20",
            Lift::Valu("inet:ipv4:asn", "<=", json!(20)),
        ),
        (
            "inet:ipv4:asn*range=(15, 30)",
            Lift::Valu("inet:ipv4:asn", "range=", json!([15, 30])),
        ),
        (
            "inet:ipv4=1.2.3.0/24",
            Lift::Valu("inet:ipv4", "=", json!("1.2.3.0/24")),
        ),
        (
            "inet:ipv4*range=(0.0.0.0, 2.0.0.0)",
            Lift::Valu("inet:ipv4", "range=", json!(["0.0.0.0", "2.0.0.0"])),
        ),
        (
            "inet:ipv4<5.6.7.8",
            Lift::Valu("inet:ipv4", "<", json!("5.6.7.8")),
        ),
        ("inet:fqdn", Lift::Prop("inet:fqdn", false)),
        (
            "inet:fqdn=*.link",
            Lift::Valu("inet:fqdn", "=", json!("*.link")),
        ),
        (
            "inet:fqdn~=vert",
            Lift::Valu("inet:fqdn", "~=", json!("vert")),
        ),
        (
            "inet:fqdn:domain=vertex.link",
            Lift::Valu("inet:fqdn:domain", "=", json!("vertex.link")),
        ),
        (
            "inet:fqdn:iszone=1",
            Lift::Valu("inet:fqdn:iszone", "=", json!(1)),
        ),
        ("#foo", Lift::Tag("foo", None)),
        ("#foo.bar", Lift::Tag("foo.bar", None)),
        ("inet:ipv4#foo", Lift::Tag("foo", Some("inet:ipv4"))),
        (
            "#foo.bar@=2020-06",
            Lift::TagValu("foo.bar", "@=", json!("2020-06")),
        ),
        (
            "#foo.baz@=2019",
            Lift::TagValu("foo.baz", "@=", json!("2019")),
        ),
        (
            "#foo.bar=(2020, 2021)",
            Lift::TagValu("foo.bar", "=", json!(["2020", "2021"])),
        ),
        (
            "ps:contact:emails*[=a@b.com]",
            Lift::Array("ps:contact:emails", "=", json!("a@b.com")),
        ),
        (
            "ps:contact:emails*[^=c@]",
            Lift::Array("ps:contact:emails", "^=", json!("c@")),
        ),
        ("syn:tag^=foo", Lift::Valu("syn:tag", "^=", json!("foo"))),
        (
            "syn:tag=foo.bar",
            Lift::Valu("syn:tag", "=", json!("foo.bar")),
        ),
        (
            "inet:email^=visi",
            Lift::Valu("inet:email", "^=", json!("visi")),
        ),
        (
            "inet:email:fqdn=vertex.link",
            Lift::Valu("inet:email:fqdn", "=", json!("vertex.link")),
        ),
        ("inet:ipv6", Lift::Prop("inet:ipv6", false)),
        (
            "inet:ipv6>\"::1\"",
            Lift::Valu("inet:ipv6", ">", json!("::1")),
        ),
        (
            "inet:ipv6=\"2001:db8::1\"",
            Lift::Valu("inet:ipv6", "=", json!("2001:db8::1")),
        ),
        (
            "it:dev:str:norm='hehe haha'",
            Lift::Valu("it:dev:str:norm", "=", json!("hehe haha")),
        ),
        (
            "biz:stake:percent>1",
            Lift::Valu("biz:stake:percent", ">", json!("1")),
        ),
        ("biz:stake:percent", Lift::Prop("biz:stake:percent", false)),
        ("geo:place:latlong", Lift::Prop("geo:place:latlong", false)),
        (
            "geo:place:loc^=us.ca",
            Lift::Valu("geo:place:loc", "^=", json!("us.ca")),
        ),
        (
            "media:news:published@=(2020, 2021)",
            Lift::Valu("media:news:published", "@=", json!(["2020", "2021"])),
        ),
        (
            "media:news:published<2021",
            Lift::Valu("media:news:published", "<", json!("2021")),
        ),
        (
            "media:news:title~='^hel'",
            Lift::Valu("media:news:title", "~=", json!("^hel")),
        ),
        (
            "inet:url^=https://www",
            Lift::Valu("inet:url", "^=", json!("https://www")),
        ),
        (
            "inet:dns:a:fqdn=www.vertex.link",
            Lift::Valu("inet:dns:a:fqdn", "=", json!("www.vertex.link")),
        ),
        (
            "inet:dns:a=(www.vertex.link, 1.2.3.4)",
            Lift::Valu("inet:dns:a", "=", json!(["www.vertex.link", "1.2.3.4"])),
        ),
        ("inet:asn", Lift::Prop("inet:asn", false)),
        ("syn:tag", Lift::Prop("syn:tag", false)),
    ];
    let spec = json!({
        "nodes": nodedefs,
        "queries": lifts.iter().map(|(q, _)| *q).collect::<Vec<_>>(),
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/layer/ref_lifts.py");
    let mut child = Command::new(ref_python())
        .arg(script)
        .env("SYNDEV_CELL_DRIVE_NOSPAWN", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the reference python");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(spec.to_string().as_bytes()).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "reference run failed");
    let want: Json = serde_json::from_slice(&output.stdout).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let views = open(dir.path()).await;
    let view = views.default_view();
    let mut ed = editor(&view);
    ed.set_strict(false);
    for def in nodedefs.as_array().unwrap() {
        ed.add_node_def(&to_value(def)).await.unwrap();
    }
    ed.apply().await.unwrap();

    let mut all: Vec<Json> = nodes(view.lift_prop(".created", false).unwrap())
        .await
        .iter()
        .map(node_json)
        .collect();
    all.sort_by_key(|n| serde_json::to_string(n).unwrap());
    let want_all = want["all"].as_array().unwrap();
    assert_eq!(all.len(), want_all.len(), "node counts: ours {all:#?}");
    for (ours, theirs) in all.iter().zip(want_all) {
        assert_eq!(ours, theirs);
    }
    let mut failures = Vec::new();
    for (idx, (query, lift)) in lifts.iter().enumerate() {
        let got: Vec<Json> = nodes(run(&view, lift))
            .await
            .iter()
            .map(ndef_json)
            .collect();
        let expect = &want["results"][idx];
        if Json::Array(got.clone()) != *expect {
            failures.push(format!("{query}: ours {got:?} reference {expect}"));
        }
    }
    assert!(
        failures.is_empty(),
        "lift mismatches:\n{}",
        failures.join("\n")
    );
    let _ = s("");
    views.fini().await;
}
