//! The macros of [zk-dsl](https://docs.rs/zk-dsl): `zk!`, `acl!` and `#[derive(ZNodeData)]`.
//! Use them through `zk_dsl` (`use zk_dsl::{zk, acl, ZNodeData};`), which re-exports them and
//! owns every path they expand to.
//!
//! Each macro runs the same pipeline as serde_derive:
//!
//! * `parse` reads the tokens into the `model` (a verb, its arguments and options; ACL
//!   entries; a type and its attributes), skipping to the next statement after a syntax error;
//! * `check` applies the rules (verb and option tables in `model::spec`, ZooKeeper's path
//!   rules, ACL scheme and permission names, conflicting options) and reports every violation
//!   to a `ctxt::Ctxt` with the span of the token at fault;
//! * `expand` runs only when nothing was reported, and emits exactly the builder calls a
//!   person would write (clap's rule: one model, two front ends).
//!
//! All errors of one invocation are reported together.

mod check;
mod ctxt;
mod expand;
mod model;
mod parse;

use proc_macro::TokenStream;

use ctxt::{output, Ctxt, Position};

/// Coordination logic in the seed's vocabulary, expanded to zk-dsl's builder calls.
///
/// # Two forms
///
/// ```text
/// zk!(CLIENT, COMMAND)                          // one builder chain: .await it, .send() it, .wait() it
/// zk! { CLIENT => STATEMENT; STATEMENT; … }     // an async block running the statements in order
/// ```
///
/// `CLIENT` is any expression giving a `zk_dsl::Client` (or a reference to one, or a
/// `blocking::Client`). It is evaluated once. With a blocking client, finish one command with
/// `.wait()` and run a block with `zk_dsl::blocking::block_on(zk! { client => … })`: every
/// verb, the compound ones included, is the same future on both clients.
///
/// **One command** expands to the builder chain and nothing else:
/// `zk!(client, create "/app/job-" persistent sequential data = "todo")` *is*
/// `client.create("/app/job-").persistent().sequential().data("todo")`, so the result is a
/// `Call` like any builder's: `.await` it, `.send()` it for a handle, give it a
/// `.callback(f)`, or `.wait()` on a blocking client.
///
/// **A block** `zk! { client => … }` is an `async` block (evaluate it with `.await`; it does
/// nothing before). Each statement is one of
///
/// * `COMMAND;` — sent and awaited with `?`: the first error ends the block; with the
///   option `optional`, the refusal a caller expects becomes `None` instead (`NodeExists` for
///   `create`/`create_all`, `NoNode` for the rest: `.await.exists_ok()?` / `.await.absent_ok()?`),
///   and any other error still ends the block;
/// * `let PATTERN [: TYPE] = COMMAND;` — the same, binding the result;
/// * any Rust statement (`let v = node.stat.version;`, `if …`, `for …`, a nested `zk!(…)`),
///   run in order with the commands.
///
/// The block evaluates to `Result<T, zk_dsl::Error>`: `T` is the value of the last command or
/// expression if it has no `;`, else `()`. A command with `send` or `callback = f` is not
/// awaited: its value is the `Pending` handle, so a block can pipeline requests. A statement
/// that starts with a verb is a command; to call a Rust function that has a verb's name, wrap
/// the call in braces (`{ sync(x) };`).
///
/// # Commands
///
/// `VERB ARGUMENTS… OPTIONS…`. Verbs and options are the builder's method names. Verbs also
/// answer to the seed's names: `data` (`get_data`), `set-data`, `create-all`, `delete-all`,
/// `delete-children`, `compare-and-set-data`, `get-acl`, `add-auth-info`, `filter-children-by-…`.
///
/// | verb | arguments | options |
/// |---|---|---|
/// | `create` | PATH | `persistent` `ephemeral` `sequential` `container` `ttl = D` `mode = M` `data = V` `bytes = B` `acl = A` `with_stat` `protected` (Curator's `_c_<uuid>-` prefix; a lost reply finds the node instead of creating another; not with `with_stat`, `send` or `callback`) |
/// | `create_all` | PATH | the create options except `with_stat` (parents are persistent) |
/// | `exists`, `get_data` (`data`) | PATH | `watch` \| `watcher = f` \| `watcher_shared = f` \| `with_watch`; `get_data`: `as TYPE` (typed read, `.decode::<TYPE>()`) |
/// | `children` | PATH | `with_stat`, and a watch option as above |
/// | `set_data` | PATH VALUE | `version = N` |
/// | `clear_data`, `delete` | PATH | `version = N` |
/// | `delete_all` | PATH | |
/// | `delete_children` | PATH | `sort` (one by one in sequence order; the seed's `:sort?`) |
/// | `get_acl` | PATH | |
/// | `set_acl` | PATH ACL | `version = N` |
/// | `sync`, `get_ephemerals`, `get_all_children_number` | PATH | |
/// | `who_am_i`, `close` | | |
/// | `get_config` | | a watch option as above (the ensemble's `/zookeeper/config`, never under the chroot) |
/// | `reconfig` | | `add = SERVER` `remove = ID` (one each) or `members = LIST`; `from_config = VERSION` |
/// | `watch` | PATH | `recursive` `watcher = f` (a persistent watch; yields a `WatchStream`) |
/// | `remove_watches`, `check_watches` | PATH KIND | KIND: `data` `children` `any` `persistent` `persistent_recursive`, or an expression |
/// | `add_auth` (`add-auth-info`) | SCHEME CREDENTIALS | |
/// | `compare_and_set_data` | PATH EXPECTED NEW | `retries = N` (required: the bound is explicit) |
/// | `filter_children_by_prefix`/`_suffix`/`_pattern`, `filter_children` | PATH PREFIX/SUFFIX/&REGEX/PREDICATE | |
/// | `txn` (`transaction`) | `{ OPERATION; … }` | |
/// | `multi_read` | `{ get_data PATH; children PATH; … }` | |
/// | `lock` | PATH | `timeout = D` `id = I` `loss_policy = P` (or `policy = P`) `retry = R` |
/// | `read_lock`, `write_lock` | PATH | as `lock` |
/// | `lease` | PATH | `max = N` (required), and the options of `lock` |
/// | `latch` | PATH | `id = I` `loss_policy = P` `retry = R` |
/// | `dosync` | `[NAMES…]` (optional) CLOSURE | `retry = R` `markers = "/path"` (see [Ref transactions](#ref-transactions)) |
///
/// Every verb that makes a `Call` (all but `create_all`, `delete_all`, `delete_children`,
/// `compare_and_set_data`, the filters, `add_auth`, `close` and the recipes) also takes `send` and
/// `callback = f`. In a block, `create`, `create_all`, `get_data`, `children`, `set_data`,
/// `clear_data`, `delete`, `delete_all`, `delete_children`, `get_acl`, `set_acl` and
/// `compare_and_set_data` take `optional`. `compare_and_set_data`'s values are typed like
/// `data = …` (`&n`, `"text"`, `&config`).
///
/// The seed's spellings of options (`async`, `watch?`, `persistent?`, `sequential?`, `sort?`)
/// are errors that name the option meant, as misspelt verbs are.
///
/// **Paths.** A string literal is checked at compile time with ZooKeeper's rules (`"/a//b"`,
/// `"/a/."`, `"a"` and `"/a/"` are errors pointing at the literal; a sequential create may end
/// in `/`). A literal with `{…}` is a template: `"/services/{name}/config"` becomes
/// `format!("/services/{}/config", name)`, any expression can go in the braces, `{{`/`}}` are
/// literal braces, and the static parts are checked (each placeholder standing for part of a
/// node name, or for an absolute path when it starts the literal). Any other expression is
/// passed as is and checked at run time, like a builder argument.
///
/// **Values** (`set_data`'s data, `data = …`, `version = …`) are passed to the builder as
/// written: data is a reference or a string (`"text"`, `&bytes[..]`, `&config`), as for
/// `.data(…)`. Positional arguments stand next to each other, so each is a single *term*: a
/// literal, a name or path, a call or method chain (`cfg.name()`), `&x`, `-1`, a macro call,
/// a closure, or anything in `(…)`, `[…]` or `{…}`; put other expressions in parentheses.
///
/// **ACLs** (`acl = […]`, `set_acl PATH […]`) use the [`acl!`] syntax inside brackets and
/// become `.try_acl(acl![…])`: the helpers check ids at run time, and a refused entry fails
/// the call when it is made (as a bad `.data(…)` does), so no `?` is needed. `acl = expr`
/// passes a `Vec<Acl>` to `.acl(expr)`; `set_acl PATH expr` passes it as the argument.
///
/// **Options** go in any order; the expansion puts `with_stat`, `with_watch`, `send` and
/// `callback` last so that every order type-checks.
///
/// **Durations** (`timeout = …`, `ttl = …`) are a `Duration` expression or a literal with a
/// unit: `500ms`, `5s`, `2m` (or `2min`), `1h`, which become the constructor a person would
/// write (`Duration::from_millis(500)`, `Duration::from_secs(5)`, `Duration::from_secs(120)`).
/// A literal without a unit, with another unit or with a fraction (`1.5s`: write `1500ms`) is
/// a compile error.
///
/// # Locks, leases and leadership
///
/// The recipes of `zk_dsl::recipes` (zk-dsl's `recipes` feature, on by default; without it the
/// compiler says the module is "gated behind the `recipes` feature", at the verb):
///
/// ```text
/// lock PATH [options]          // Mutex::new(&client, PATH).id(I)….acquire().timeout(D)
/// read_lock PATH [options]     // ReadWriteLock::new(&client, PATH)….read().timeout(D)
/// write_lock PATH [options]    // ReadWriteLock::new(&client, PATH)….write().timeout(D)
/// lease PATH max = N [options] // Semaphore::new(&client, PATH, N)….acquire()  (.acquire_timeout(D))
/// latch PATH [options]         // LeaderLatch::new(&client, PATH)….start()
/// ```
///
/// `id`, `loss_policy` and `retry` are the recipe's builder methods, in the order written;
/// `timeout` applies to the acquisition. Awaiting a lock or a lease gives a `LockGuard`, a
/// latch a `Latch` (its node exists; `wait_leader()` waits for the turn). An acquisition
/// borrows the recipe the expansion makes, so await it in the same statement (`let guard =
/// zk!(…).await?;`, or a `let` in a block); to keep a recipe for several acquisitions, build
/// it with the builders. With a blocking client, run them in a block with `block_on`. Paths
/// are checked as every other verb's.
///
/// # Ref transactions
///
/// Avout's `(dosync (alter r f))`: a transaction over `zk_dsl::recipes::Ref`s, committed as
/// one multi and rerun on fresh values when a ref it read has changed (the `recipes` feature).
///
/// ```text
/// dosync [alice, bob] |tx| { BODY } [retry = R] [markers = "/path"]
/// // Transaction::new(&client).retry(R).markers("/path").run(|tx| {
/// //     let alice = Clone::clone(&alice);
/// //     let bob = Clone::clone(&bob);
/// //     async move { BODY }
/// // })
/// ```
///
/// The body runs once per attempt, so it cannot move what it uses into the first one: the
/// list in `[…]` (optional) names the variables each attempt gets a clone of (the refs,
/// usually; a reference or any `Copy` value needs no entry). The closure takes exactly one
/// parameter, the attempt's `Txn` (`tx.get(&r)`, `tx.set(&r, &v)`, `tx.alter(&r, f)`); its
/// body, a block or one expression, becomes the attempt's `async move` block and evaluates to
/// `Result<T, zk_dsl::Error>`: pass the `Txn`'s errors on with `?` (a conflict is one, and
/// reruns the body), return `Ok(value)` to commit. Awaiting the command gives that value.
/// Options go after the closure. Like the recipe verbs, the expansion borrows the
/// `Transaction` it makes, so await it in the same statement; in a block,
/// `let moved = dosync [a, b] |tx| { … };` is awaited with `?` as every command is.
/// (`dosync [a] |tx| { … }` with no option after it also parses as Rust, an index and two
/// `|`, so rustfmt may respace it `dosync[a] | tx | { … }` inside `zk!(…)`: the same tokens,
/// the same expansion.)
///
/// # Transactions and batched reads
///
/// ```text
/// txn {
///     create PATH [create options];         // .create_with(PATH, |c| c.options…)
///     set_data PATH VALUE [version = N];    // .set_data(PATH, VALUE, N)     (N: -1, any, by default)
///     delete PATH [version = N];            // .delete(PATH, N)
///     check PATH [version = N];             // .check(PATH, N)
/// }
/// ```
///
/// becomes one `client.transaction()…` chain: awaiting it gives `Vec<OpResult>`, one typed
/// result per operation (`Created { path, stat }` — `stat` is an `Option`, `None` from
/// ZooKeeper 3.8, which sends no Stat for a create in a transaction — `DataSet { stat }`,
/// `Deleted`, `Checked`), or `Error::TransactionFailed { index, source }` after the server rolled every
/// operation back. `multi_read { get_data PATH; children PATH; }` is `client.multi_read()…`.
///
/// # Compile-time errors
///
/// Unknown verbs, unknown options (with "did you mean" and the list of the verb's options),
/// options that do not apply to the verb (`version` on `create`, `timeout` on `latch`),
/// duplicate options, conflicting options (`persistent ephemeral`, `data` with `bytes`, two
/// watches), missing arguments and required options (`lease` without `max`), durations
/// without a known unit, a `dosync` body that is not a closure of one parameter, `dosync`
/// list entries that are not names, invalid literal paths and templates, unknown ACL schemes and
/// permissions: all reported together, each at its token.
///
/// ```no_run
/// use zk_dsl::{zk, Client};
///
/// async fn demo(client: &Client, name: &str) -> zk_dsl::Result<()> {
///     zk!(client, create "/services" persistent).await?;
///     zk!(client, create "/services/{name}" data = "up" acl = [world(read), auth(all)]).await?;
///     let found = zk! { client =>
///         let node = get_data "/services/{name}";
///         set_data "/services/{name}" "down" version = node.stat.version;
///         children "/services"
///     }
///     .await?;
///     assert!(found.contains(&name.to_owned()));
///     let guard = zk!(client, lock "/locks/{name}" timeout = 5s id = "worker-1").await?;
///     guard.set_data("/services", "fenced", -1).await?; // refused once the lock is lost
///     guard.release().await
/// }
/// ```
#[proc_macro]
pub fn zk(input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let invocation = parse::invocation(input.into(), &cx);
    if let Some(invocation) = &invocation {
        check::command::check_invocation(invocation, &cx);
    }
    output(cx.finish().map(|()| invocation.as_ref().map(expand::zk::invocation).unwrap_or_default()), Position::Expr)
}

/// An ACL list, checked at compile time, built at run time with `zk_dsl::acl`'s helpers.
///
/// ```text
/// acl![ENTRY, ENTRY, …]        // evaluates to Result<Vec<Acl>, AclError>
/// ENTRY = SCHEME(IDS…, PERMISSIONS…) | SCHEME
/// ```
///
/// Each scheme takes a fixed number of ids (any expressions), so what follows them is
/// permissions: `read`, `write`, `create`, `delete`, `admin`, `all`. No permissions means the
/// seed's default (read, write, create, delete).
///
/// | entry | expands to |
/// |---|---|
/// | `world(read, write)` | `acl::world_acl(Perms::READ \| Perms::WRITE)` |
/// | `auth(all)` | `acl::auth_acl(Perms::ALL)` |
/// | `digest(user, password, perms…)` | `acl::digest_acl(user, password, perms)`: hashed at run time |
/// | `ip(address, perms…)` | `acl::ip_acl(address, perms)` |
/// | `host(suffix, perms…)` | `acl::host_acl(suffix, perms)` |
/// | `x509(id, perms…)`, `sasl(id, perms…)` | `acl::acl("x509", id, perms)`, … |
///
/// It is the seed's helper calls with the keywords unquoted: `(digest-acl "david" "secret"
/// :read :write)` is `digest("david", "secret", read, write)`. Unknown schemes, unknown or
/// duplicate permissions, missing ids and an empty list are compile errors; malformed ids
/// (known only at run time) are the helpers' `AclError`s.
///
/// ```
/// use zk_dsl::acl;
///
/// # fn main() -> Result<(), zk_dsl::acl::AclError> {
/// let password = "secret";
/// let entries = acl![world(read), digest("david", password, all), ip("10.0.0.0/8", read, write)]?;
/// assert_eq!(entries.len(), 3);
/// assert_eq!(entries[1].id.id, "david:skR34IUghqUm2jMeXKyHqHxr3Gk=");
/// # Ok(()) }
/// ```
#[proc_macro]
pub fn acl(input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let parser = |input: syn::parse::ParseStream| parse::acl::parse_entries(input);
    let list = match syn::parse::Parser::parse(parser, input) {
        Ok(list) => Some(list),
        Err(e) => {
            cx.syn_error(e);
            None
        }
    };
    if let Some(list) = &list {
        check::acl::check(list, &cx);
    }
    output(cx.finish().map(|()| list.as_ref().map(expand::acl::list).unwrap_or_default()), Position::Expr)
}

/// Implements `zk_dsl::ZNodeData` for a serde type through a codec, and with a path, gives the
/// type a typed node handle.
///
/// ```text
/// #[derive(Serialize, Deserialize, ZNodeData)]
/// #[znode(codec = postcard)]                       // or bincode, json
/// #[znode(path = "/config/{service}")]             // optional: Config::node(&client, service)
/// struct Config { … }
/// ```
///
/// The codecs are types in `zk_dsl::codec`, each behind the zk-dsl cargo feature of its name
/// (`postcard` is on by default); see that module for the trade-offs. Decoding failures are
/// `Error::Codec` naming the node's path and the Rust type.
///
/// `path` makes `Type::node(&client, placeholders…)`, one `impl Display` parameter per
/// placeholder (in order of first appearance), returning a `zk_dsl::typed::TypedNode` with
/// `get`, `create`, `set`, `update` (a compare-and-set loop), `delete` and `watch`. The path is
/// checked at compile time like `zk!`'s.
#[proc_macro_derive(ZNodeData, attributes(znode))]
pub fn derive_znode_data(input: TokenStream) -> TokenStream {
    let cx = Ctxt::new();
    let container = match syn::parse::<syn::DeriveInput>(input) {
        Ok(input) => Some(parse::derive::parse(input, &cx)),
        Err(e) => {
            cx.syn_error(e);
            None
        }
    };
    if let Some(container) = &container {
        check::derive::check(container, &cx);
    }
    output(cx.finish().map(|()| container.as_ref().map(expand::derive::expand).unwrap_or_default()), Position::Items)
}
