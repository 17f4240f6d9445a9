//! ACL entries: scheme names, how many ids each scheme takes, permission names.

use crate::check::suggest::did_you_mean;
use crate::ctxt::Ctxt;
use crate::model::acl::{as_name, perm_const, AclList, Scheme, PERMS};

pub fn check(list: &AclList, cx: &Ctxt) {
    if list.entries.is_empty() {
        cx.error(list.span, "an ACL needs at least one entry: ZooKeeper refuses an empty ACL");
    }
    for entry in &list.entries {
        let name = entry.scheme.to_string();
        let Some(scheme) = Scheme::from_name(&name) else {
            cx.error(entry.scheme.span(), unknown_scheme(&name));
            continue;
        };
        let ids = scheme.ids();
        let given_ids = entry.args.iter().take(ids.len());
        let missing = entry.args.len() < ids.len() || given_ids.clone().any(|a| as_name(a).is_some_and(is_perm));
        if missing {
            let needs = if ids.is_empty() { String::new() } else { format!("{} then ", ids.join(" and ")) };
            cx.error_spanned_by(
                &entry.scheme,
                format!("`{name}` takes {needs}permissions, as in `{}`", scheme.example()),
            );
            continue;
        }
        let mut seen: Vec<String> = Vec::new();
        for arg in &entry.args[ids.len()..] {
            match as_name(arg) {
                Some(ident) if is_perm(ident) => {
                    let perm = ident.to_string();
                    if seen.contains(&perm) {
                        cx.error(ident.span(), format!("duplicate permission `{perm}`"));
                    }
                    seen.push(perm);
                }
                Some(ident) => cx.error(ident.span(), unknown_perm(&ident.to_string())),
                None => cx.error_spanned_by(
                    arg,
                    format!(
                        "expected a permission name ({}); `{name}` takes {} id{} before them",
                        perm_names().join(", "),
                        ids.len(),
                        if ids.len() == 1 { "" } else { "s" },
                    ),
                ),
            }
        }
    }
}

fn is_perm(ident: &syn::Ident) -> bool {
    perm_const(&ident.to_string()).is_some()
}

fn perm_names() -> Vec<&'static str> {
    PERMS.iter().map(|(n, _)| *n).collect()
}

fn unknown_scheme(name: &str) -> String {
    let names: Vec<&str> = Scheme::ALL.iter().map(|s| s.name()).collect();
    let mut message = format!("unknown ACL scheme `{name}`");
    if name == "super" {
        message.push_str(" (`super` is an identity the server grants, not a scheme an ACL can name)");
    } else if let Some(close) = did_you_mean(name, &names) {
        message.push_str(&format!("; did you mean `{close}`?"));
    }
    message.push_str(&format!("\nschemes: {}", names.join(", ")));
    message
}

fn unknown_perm(name: &str) -> String {
    let names = perm_names();
    let mut message = format!("unknown permission `{name}`");
    if let Some(close) = did_you_mean(name, &names) {
        message.push_str(&format!("; did you mean `{close}`?"));
    }
    message.push_str(&format!("\npermissions: {}", names.join(", ")));
    message
}
