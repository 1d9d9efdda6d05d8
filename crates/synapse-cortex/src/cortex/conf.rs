//! The Cortex's configuration directives (the reference's `Cortex.confdefs`), added to the
//! base cell's. Unknown directives are refused like in any cell.

use serde_json::json;
use synapse_cell::{ConfDef, ConfType};

/// The Cortex directives, with the reference's names, types, defaults and visibility.
pub fn confdefs() -> Vec<ConfDef> {
    vec![
        ConfDef::new("axon", &[ConfType::String], "A telepath URL for a remote axon."),
        ConfDef::new(
            "jsonstor",
            &[ConfType::String],
            "A telepath URL for a remote jsonstor.",
        ),
        ConfDef::new(
            "cron:enable",
            &[ConfType::Boolean],
            "Deprecated. This option no longer controls cron execution and will be removed in Synapse 3.0.",
        )
        .default(json!(true)),
        ConfDef::new(
            "trigger:enable",
            &[ConfType::Boolean],
            "Deprecated. This option no longer controls trigger execution and will be removed in Synapse 3.0.",
        )
        .default(json!(true)),
        ConfDef::new(
            "layer:lmdb:map_async",
            &[ConfType::Boolean],
            "Deprecated. This value is ignored.",
        )
        .default(json!(true))
        .hidecmdl()
        .hideconf(),
        ConfDef::new(
            "layer:lmdb:max_replay_log",
            &[ConfType::Integer],
            "Deprecated. This value is ignored.",
        )
        .default(json!(10000))
        .hidecmdl()
        .hideconf(),
        ConfDef::new(
            "layers:lockmemory",
            &[ConfType::Boolean],
            "Should new layers lock memory for performance by default.",
        )
        .default(json!(false)),
        ConfDef::new(
            "layers:logedits",
            &[ConfType::Boolean],
            "Whether nodeedits are logged in each layer.",
        )
        .default(json!(true)),
        ConfDef::new(
            "layers:cache:size",
            &[ConfType::Integer, ConfType::Null],
            "Default buid cache size for new layers.",
        )
        .default(json!(null)),
        ConfDef::new(
            "provenance:en",
            &[ConfType::Boolean],
            "This no longer does anything.",
        )
        .default(json!(false))
        .hideconf(),
        ConfDef::new(
            "max:nodes",
            &[ConfType::Integer],
            "Maximum number of nodes which are allowed to be stored in a Cortex.",
        )
        .with_schema(|s| s.minimum(1.0))
        .hidecmdl(),
        ConfDef::new(
            "modules",
            &[ConfType::Array],
            "Deprecated. A list of module classes to load.",
        )
        .default(json!([])),
        ConfDef::new(
            "storm:log",
            &[ConfType::Boolean],
            "Log storm queries via system logger.",
        )
        .default(json!(false)),
        ConfDef::new(
            "storm:log:level",
            &[ConfType::Integer, ConfType::String],
            "Logging log level to emit storm logs at.",
        )
        .default(json!("INFO")),
        ConfDef::new(
            "storm:interface:search",
            &[ConfType::Boolean],
            "Enable Storm search interfaces for lookup mode.",
        )
        .default(json!(true)),
        ConfDef::new(
            "storm:interface:scrape",
            &[ConfType::Boolean],
            "Enable Storm scrape interfaces when using $lib.scrape APIs.",
        )
        .default(json!(true)),
        ConfDef::new(
            "http:proxy",
            &[ConfType::String],
            "An aiohttp-socks compatible proxy URL to use storm HTTP API.",
        ),
        ConfDef::new(
            "tls:ca:dir",
            &[ConfType::String],
            "An optional directory of CAs which are added to the TLS CA chain for Storm HTTP API calls.",
        ),
    ]
}
