//! The grammar's tables: every verb, what it takes, and every option. Parsing, checking,
//! expansion and the error messages all read these, so a verb or option is added in one place.
//!
//! The names are the builder's method names (`create`, `set_data`, `with_stat`, ...), because
//! `zk!` expands to exactly those calls. Verbs also answer to the seed's names (`data`,
//! `set-data`, `create-all`, `add-auth-info`, ...), written with `-` as in Clojure.

/// One verb (or one entry of a `txn { }` / `multi_read { }` block).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    CreateAll,
    Exists,
    GetData,
    SetData,
    ClearData,
    Delete,
    DeleteAll,
    DeleteChildren,
    Children,
    GetAcl,
    SetAcl,
    Sync,
    Txn,
    MultiRead,
    GetEphemerals,
    GetAllChildrenNumber,
    WhoAmI,
    GetConfig,
    Reconfig,
    Watch,
    RemoveWatches,
    CheckWatches,
    AddAuth,
    Close,
    CompareAndSetData,
    FilterChildrenByPrefix,
    FilterChildrenBySuffix,
    FilterChildrenByPattern,
    FilterChildren,
    // The recipes (`zk_dsl::recipes`, behind zk-dsl's `recipes` feature).
    Lock,
    ReadLock,
    WriteLock,
    Lease,
    Latch,
    /// A transaction over `Ref`s (`Transaction::run`), Avout's `dosync`.
    Dosync,
    // Entries of `txn { }`.
    TxnCreate,
    TxnSetData,
    TxnDelete,
    TxnCheck,
    // Entries of `multi_read { }`.
    ReadData,
    ReadChildren,
}

/// What a verb takes before its options, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// A node path: a literal (checked at compile time), a template `"/a/{x}"` (its static
    /// parts checked, the rest interpolated with `format!`), or any expression.
    Path,
    /// A value passed to the builder as written; the string names it in messages.
    Value(&'static str),
    /// An ACL list: `[world(read), ...]` in `acl!` syntax, or an expression.
    Acl,
    /// Which watches: `data`, `children`, `any`, `persistent`, `persistent_recursive`, or an
    /// expression of type `WatcherType`.
    WatcherKind,
    /// `{ entry; entry; ... }`: the operations of a transaction or of a multi_read.
    Entries(Block),
    /// `[name, name, …]`, optional: variables each run of a closure gets a clone of.
    Clones,
    /// A closure `|param| body`, called for every attempt; the string names it in messages.
    Closure(&'static str),
}

/// Which verbs are allowed: at the top of `zk!`, or inside a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Block {
    Top,
    Txn,
    MultiRead,
}

/// One verb's grammar.
#[derive(Debug)]
pub struct VerbSpec {
    pub verb: Verb,
    /// The builder method's name, which is also the verb's name in `zk!`.
    pub name: &'static str,
    /// Other names, with `-` already turned into `_` (the seed's spelling).
    pub aliases: &'static [&'static str],
    pub args: &'static [ArgKind],
    pub options: &'static [Opt],
    /// Options that must be given.
    pub required: &'static [Opt],
    /// The usage line shown in messages.
    pub usage: &'static str,
}

/// Every option of every verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opt {
    Persistent,
    Ephemeral,
    Sequential,
    Container,
    Ttl,
    Mode,
    Data,
    Bytes,
    Acl,
    WithStat,
    Watch,
    Watcher,
    WatcherShared,
    WatcherOnce,
    WithWatch,
    Version,
    Recursive,
    Sort,
    Retries,
    Send,
    Callback,
    /// Inside a block: the expected refusal (`NoNode`; `NodeExists` for a create) becomes
    /// `None` instead of ending the block (`.await.absent_ok()?` / `.await.exists_ok()?`).
    Optional,
    /// A single request's deadline (`Call::timeout`), or how long a recipe's acquisition waits
    /// (`Acquire::timeout`, `Semaphore::acquire_timeout`).
    Timeout,
    /// A recipe's participant id.
    Id,
    /// A recipe's `LossPolicy` (also spelt `policy`).
    LossPolicy,
    /// A recipe's `RetryPolicy`.
    Retry,
    /// A semaphore's number of leases: `Semaphore::new`'s third argument.
    Max,
    /// A protected create (`Call::protected`): Curator's `_c_<uuid>-` name prefix, and a lost
    /// reply resolved by finding the node instead of creating a second one.
    Protected,
    /// Where a transaction's commit markers go (`Transaction::markers`).
    Markers,
    /// A server joining the ensemble (`reconfig`'s `add`, one per command).
    Add,
    /// A server id leaving the ensemble (`reconfig`'s `remove`, one per command).
    Remove,
    /// The whole new ensemble (`reconfig`'s `members`).
    Members,
    /// The configuration version a `reconfig` applies to.
    FromConfig,
}

/// What follows an option's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Takes {
    /// Nothing: `persistent`.
    Flag,
    /// `= expression`.
    Value,
    /// `= [acl entries]` or `= expression`.
    Acl,
    /// `= expression` of type `Duration`, or a literal with a unit: `5s`, `500ms`, `2m`, `1h`
    /// (see [`crate::model::duration`]).
    Duration,
}

/// Where an option's call goes in the chain. Most keep the order they were written in; the
/// ones that change the call's type go after them, so any order the user writes type-checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Plain,
    WithStat,
    WithWatch,
    Dispatch,
}

impl Opt {
    pub const ALL: [Opt; 33] = [
        Opt::Persistent,
        Opt::Ephemeral,
        Opt::Sequential,
        Opt::Container,
        Opt::Ttl,
        Opt::Mode,
        Opt::Data,
        Opt::Bytes,
        Opt::Acl,
        Opt::WithStat,
        Opt::Watch,
        Opt::Watcher,
        Opt::WatcherShared,
        Opt::WatcherOnce,
        Opt::WithWatch,
        Opt::Version,
        Opt::Recursive,
        Opt::Sort,
        Opt::Retries,
        Opt::Send,
        Opt::Callback,
        Opt::Optional,
        Opt::Timeout,
        Opt::Id,
        Opt::LossPolicy,
        Opt::Retry,
        Opt::Max,
        Opt::Protected,
        Opt::Markers,
        Opt::Add,
        Opt::Remove,
        Opt::Members,
        Opt::FromConfig,
    ];

    /// The option's name, which is the builder method it becomes (except `sort`, `retries`
    /// and `max`, which are arguments of `delete_children`, `compare_and_set_data` and
    /// `Semaphore::new`, `optional`, which is `ResultExt::absent_ok`/`exists_ok` on the awaited
    /// result, and a lease's `timeout`, which picks `Semaphore::acquire_timeout`).
    pub fn name(self) -> &'static str {
        match self {
            Opt::Persistent => "persistent",
            Opt::Ephemeral => "ephemeral",
            Opt::Sequential => "sequential",
            Opt::Container => "container",
            Opt::Ttl => "ttl",
            Opt::Mode => "mode",
            Opt::Data => "data",
            Opt::Bytes => "bytes",
            Opt::Acl => "acl",
            Opt::WithStat => "with_stat",
            Opt::Watch => "watch",
            Opt::Watcher => "watcher",
            Opt::WatcherShared => "watcher_shared",
            Opt::WatcherOnce => "watcher_once",
            Opt::WithWatch => "with_watch",
            Opt::Version => "version",
            Opt::Recursive => "recursive",
            Opt::Sort => "sort",
            Opt::Retries => "retries",
            Opt::Send => "send",
            Opt::Callback => "callback",
            Opt::Optional => "optional",
            Opt::Timeout => "timeout",
            Opt::Id => "id",
            Opt::LossPolicy => "loss_policy",
            Opt::Retry => "retry",
            Opt::Max => "max",
            Opt::Protected => "protected",
            Opt::Markers => "markers",
            Opt::Add => "add",
            Opt::Remove => "remove",
            Opt::Members => "members",
            Opt::FromConfig => "from_config",
        }
    }

    /// Other names the option answers to.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Opt::LossPolicy => &["policy"],
            _ => &[],
        }
    }

    pub fn from_name(name: &str) -> Option<Opt> {
        Opt::ALL.into_iter().find(|o| o.name() == name || o.aliases().contains(&name))
    }

    pub fn takes(self) -> Takes {
        match self {
            Opt::Ttl | Opt::Timeout => Takes::Duration,
            Opt::Mode
            | Opt::Data
            | Opt::Bytes
            | Opt::Watcher
            | Opt::WatcherShared
            | Opt::WatcherOnce
            | Opt::Version
            | Opt::Retries
            | Opt::Callback
            | Opt::Id
            | Opt::LossPolicy
            | Opt::Retry
            | Opt::Max
            | Opt::Markers
            | Opt::Add
            | Opt::Remove
            | Opt::Members
            | Opt::FromConfig => Takes::Value,
            Opt::Acl => Takes::Acl,
            _ => Takes::Flag,
        }
    }

    pub fn stage(self) -> Stage {
        match self {
            // `.protected()` turns the create into a `ProtectedCreate`: every create option first.
            Opt::WithStat | Opt::Protected => Stage::WithStat,
            Opt::WithWatch => Stage::WithWatch,
            Opt::Send | Opt::Callback => Stage::Dispatch,
            _ => Stage::Plain,
        }
    }

    /// How the option is written, for messages: `persistent`, `version = …`.
    pub fn usage(self) -> String {
        match self.takes() {
            Takes::Flag => self.name().to_owned(),
            Takes::Value | Takes::Acl | Takes::Duration => format!("{} = …", self.name()),
        }
    }
}

/// Options that cannot be combined (each pair once). Mostly ones that set the same thing:
/// the create mode, the data, the watch, the way the call is dispatched.
pub const CONFLICTS: &[(Opt, Opt)] = &[
    (Opt::Persistent, Opt::Ephemeral),
    (Opt::Container, Opt::Persistent),
    (Opt::Container, Opt::Ephemeral),
    (Opt::Container, Opt::Sequential),
    (Opt::Container, Opt::Ttl),
    (Opt::Mode, Opt::Persistent),
    (Opt::Mode, Opt::Ephemeral),
    (Opt::Mode, Opt::Sequential),
    (Opt::Mode, Opt::Container),
    (Opt::Ttl, Opt::Ephemeral),
    (Opt::Data, Opt::Bytes),
    (Opt::Watch, Opt::Watcher),
    (Opt::Watch, Opt::WatcherShared),
    (Opt::Watch, Opt::WithWatch),
    (Opt::Watch, Opt::WatcherOnce),
    (Opt::Watcher, Opt::WatcherShared),
    (Opt::Watcher, Opt::WithWatch),
    (Opt::Watcher, Opt::WatcherOnce),
    (Opt::WatcherShared, Opt::WithWatch),
    (Opt::WatcherShared, Opt::WatcherOnce),
    (Opt::WatcherOnce, Opt::WithWatch),
    (Opt::Send, Opt::Callback),
    (Opt::Optional, Opt::Send),
    (Opt::Optional, Opt::Callback),
    (Opt::Protected, Opt::WithStat),
    (Opt::Protected, Opt::Send),
    (Opt::Protected, Opt::Callback),
    (Opt::Protected, Opt::Timeout),
    (Opt::Members, Opt::Add),
    (Opt::Members, Opt::Remove),
];

/// The seed's option spellings (`:async? true`, `:watch? true`, …), for "did you mean": the
/// name as written in `zk!` (`async`, or `watch?` with its question mark) and this grammar's.
pub const SEED_OPTIONS: &[(&str, &str)] = &[
    ("async", "send"),
    ("async?", "send"),
    ("watch?", "watch"),
    ("persistent?", "persistent"),
    ("sequential?", "sequential"),
    ("sort?", "sort"),
    ("ephemeral?", "ephemeral"),
];

/// The option the seed spells `name`, if this verb has it.
pub fn seed_option(name: &str, spec: &VerbSpec) -> Option<Opt> {
    let (_, ours) = SEED_OPTIONS.iter().find(|(seed, _)| *seed == name)?;
    Opt::from_name(ours).filter(|o| spec.allows(*o))
}

use ArgKind::{Acl as AclArg, Path, Value, WatcherKind};
use Opt::*;

const CREATE_OPTIONS: &[Opt] = &[Persistent, Ephemeral, Sequential, Container, Ttl, Mode, Data, Bytes, Acl];
const CREATE_ALL_OPTIONS: &[Opt] =
    &[Persistent, Ephemeral, Sequential, Container, Ttl, Mode, Data, Bytes, Acl, Optional];
// `timeout` on a single request is `Call::timeout` (its deadline); on a recipe verb it is how
// long the acquisition waits.
const READ_WATCH: &[Opt] = &[Watch, Watcher, WatcherShared, WatcherOnce, WithWatch, Timeout, Send, Callback];
const READ_WATCH_OPTIONAL: &[Opt] =
    &[Watch, Watcher, WatcherShared, WatcherOnce, WithWatch, Timeout, Send, Callback, Optional];
const DISPATCH: &[Opt] = &[Timeout, Send, Callback];
const DISPATCH_OPTIONAL: &[Opt] = &[Timeout, Send, Callback, Optional];
const VERSIONED: &[Opt] = &[Version, Timeout, Send, Callback, Optional];
const LOCK_OPTIONS: &[Opt] = &[Timeout, Id, LossPolicy, Retry];

/// The verbs of `zk!`, in the order the README lists them.
pub const TOP: &[VerbSpec] = &[
    VerbSpec {
        verb: Verb::Create,
        name: "create",
        aliases: &[],
        args: &[Path],
        options: &[
            Persistent, Ephemeral, Sequential, Container, Ttl, Mode, Data, Bytes, Acl, WithStat, Timeout, Send,
            Callback, Optional, Protected,
        ],
        required: &[],
        usage: "create PATH [persistent] [sequential] [data = …] [acl = […]] [protected] …",
    },
    VerbSpec {
        verb: Verb::CreateAll,
        name: "create_all",
        aliases: &[],
        args: &[Path],
        options: CREATE_ALL_OPTIONS,
        required: &[],
        usage: "create_all PATH [create options]",
    },
    VerbSpec {
        verb: Verb::Exists,
        name: "exists",
        aliases: &[],
        args: &[Path],
        options: READ_WATCH,
        required: &[],
        usage: "exists PATH [watch | watcher = f | watcher_shared = f | with_watch]",
    },
    VerbSpec {
        verb: Verb::GetData,
        name: "get_data",
        aliases: &["data"],
        args: &[Path],
        options: READ_WATCH_OPTIONAL,
        required: &[],
        usage: "get_data PATH [as TYPE] [watch | watcher = f | watcher_shared = f | with_watch] [optional]",
    },
    VerbSpec {
        verb: Verb::SetData,
        name: "set_data",
        aliases: &[],
        args: &[Path, Value("the data")],
        options: VERSIONED,
        required: &[],
        usage: "set_data PATH VALUE [version = N]",
    },
    VerbSpec {
        verb: Verb::ClearData,
        name: "clear_data",
        aliases: &[],
        args: &[Path],
        options: VERSIONED,
        required: &[],
        usage: "clear_data PATH [version = N]",
    },
    VerbSpec {
        verb: Verb::Delete,
        name: "delete",
        aliases: &[],
        args: &[Path],
        options: VERSIONED,
        required: &[],
        usage: "delete PATH [version = N]",
    },
    VerbSpec {
        verb: Verb::DeleteAll,
        name: "delete_all",
        aliases: &[],
        args: &[Path],
        options: &[Optional],
        required: &[],
        usage: "delete_all PATH",
    },
    VerbSpec {
        verb: Verb::DeleteChildren,
        name: "delete_children",
        aliases: &[],
        args: &[Path],
        options: &[Sort, Optional],
        required: &[],
        usage: "delete_children PATH [sort]",
    },
    VerbSpec {
        verb: Verb::Children,
        name: "children",
        aliases: &["get_children"],
        args: &[Path],
        options: &[WithStat, Watch, Watcher, WatcherShared, WatcherOnce, WithWatch, Timeout, Send, Callback, Optional],
        required: &[],
        usage: "children PATH [with_stat] [watch | watcher = f | watcher_shared = f | with_watch]",
    },
    VerbSpec {
        verb: Verb::GetAcl,
        name: "get_acl",
        aliases: &[],
        args: &[Path],
        options: DISPATCH_OPTIONAL,
        required: &[],
        usage: "get_acl PATH",
    },
    VerbSpec {
        verb: Verb::SetAcl,
        name: "set_acl",
        aliases: &[],
        args: &[Path, AclArg],
        options: VERSIONED,
        required: &[],
        usage: "set_acl PATH [acl entries] [version = N]",
    },
    VerbSpec {
        verb: Verb::Sync,
        name: "sync",
        aliases: &[],
        args: &[Path],
        options: DISPATCH,
        required: &[],
        usage: "sync PATH",
    },
    VerbSpec {
        verb: Verb::Txn,
        name: "txn",
        aliases: &["transaction"],
        args: &[ArgKind::Entries(Block::Txn)],
        options: DISPATCH,
        required: &[],
        usage: "txn { create PATH …; set_data PATH VALUE …; delete PATH …; check PATH … }",
    },
    VerbSpec {
        verb: Verb::MultiRead,
        name: "multi_read",
        aliases: &[],
        args: &[ArgKind::Entries(Block::MultiRead)],
        options: DISPATCH,
        required: &[],
        usage: "multi_read { get_data PATH; children PATH; … }",
    },
    VerbSpec {
        verb: Verb::GetEphemerals,
        name: "get_ephemerals",
        aliases: &[],
        args: &[Path],
        options: DISPATCH,
        required: &[],
        usage: "get_ephemerals PATH_PREFIX",
    },
    VerbSpec {
        verb: Verb::GetAllChildrenNumber,
        name: "get_all_children_number",
        aliases: &[],
        args: &[Path],
        options: DISPATCH,
        required: &[],
        usage: "get_all_children_number PATH",
    },
    VerbSpec {
        verb: Verb::WhoAmI,
        name: "who_am_i",
        aliases: &[],
        args: &[],
        options: DISPATCH,
        required: &[],
        usage: "who_am_i",
    },
    VerbSpec {
        verb: Verb::GetConfig,
        name: "get_config",
        aliases: &[],
        args: &[],
        options: READ_WATCH,
        required: &[],
        usage: "get_config [watch | watcher = f | watcher_shared = f | with_watch]",
    },
    VerbSpec {
        verb: Verb::Reconfig,
        name: "reconfig",
        aliases: &[],
        args: &[],
        options: &[Add, Remove, Members, FromConfig, Timeout, Send, Callback],
        required: &[],
        usage: "reconfig [add = SERVER] [remove = ID] [members = [SERVERS]] [from_config = VERSION]",
    },
    VerbSpec {
        verb: Verb::Watch,
        name: "watch",
        aliases: &["add_watch"],
        args: &[Path],
        options: &[Recursive, Watcher, Timeout, Send, Callback],
        required: &[],
        usage: "watch PATH [recursive] [watcher = f]",
    },
    VerbSpec {
        verb: Verb::RemoveWatches,
        name: "remove_watches",
        aliases: &[],
        args: &[Path, WatcherKind],
        options: DISPATCH,
        required: &[],
        usage: "remove_watches PATH data|children|any|persistent|persistent_recursive",
    },
    VerbSpec {
        verb: Verb::CheckWatches,
        name: "check_watches",
        aliases: &[],
        args: &[Path, WatcherKind],
        options: DISPATCH,
        required: &[],
        usage: "check_watches PATH data|children|any|persistent|persistent_recursive",
    },
    VerbSpec {
        verb: Verb::AddAuth,
        name: "add_auth",
        aliases: &["add_auth_info"],
        args: &[Value("the scheme"), Value("the credentials")],
        options: &[],
        required: &[],
        usage: "add_auth SCHEME CREDENTIALS",
    },
    VerbSpec { verb: Verb::Close, name: "close", aliases: &[], args: &[], options: &[], required: &[], usage: "close" },
    VerbSpec {
        verb: Verb::CompareAndSetData,
        name: "compare_and_set_data",
        aliases: &[],
        args: &[Path, Value("the expected data"), Value("the new data")],
        options: &[Retries, Optional],
        required: &[Retries],
        usage: "compare_and_set_data PATH EXPECTED NEW retries = N",
    },
    VerbSpec {
        verb: Verb::FilterChildrenByPrefix,
        name: "filter_children_by_prefix",
        aliases: &[],
        args: &[Path, Value("the prefix")],
        options: &[],
        required: &[],
        usage: "filter_children_by_prefix PATH PREFIX",
    },
    VerbSpec {
        verb: Verb::FilterChildrenBySuffix,
        name: "filter_children_by_suffix",
        aliases: &[],
        args: &[Path, Value("the suffix")],
        options: &[],
        required: &[],
        usage: "filter_children_by_suffix PATH SUFFIX",
    },
    VerbSpec {
        verb: Verb::FilterChildrenByPattern,
        name: "filter_children_by_pattern",
        aliases: &[],
        args: &[Path, Value("the pattern (&Regex)")],
        options: &[],
        required: &[],
        usage: "filter_children_by_pattern PATH &REGEX",
    },
    VerbSpec {
        verb: Verb::FilterChildren,
        name: "filter_children",
        aliases: &[],
        args: &[Path, Value("the predicate")],
        options: &[],
        required: &[],
        usage: "filter_children PATH |name| …",
    },
    VerbSpec {
        verb: Verb::Lock,
        name: "lock",
        aliases: &[],
        args: &[Path],
        options: LOCK_OPTIONS,
        required: &[],
        usage: "lock PATH [timeout = 5s] [id = …] [loss_policy = …] [retry = …]",
    },
    VerbSpec {
        verb: Verb::ReadLock,
        name: "read_lock",
        aliases: &[],
        args: &[Path],
        options: LOCK_OPTIONS,
        required: &[],
        usage: "read_lock PATH [timeout = 5s] [id = …] [loss_policy = …] [retry = …]",
    },
    VerbSpec {
        verb: Verb::WriteLock,
        name: "write_lock",
        aliases: &[],
        args: &[Path],
        options: LOCK_OPTIONS,
        required: &[],
        usage: "write_lock PATH [timeout = 5s] [id = …] [loss_policy = …] [retry = …]",
    },
    VerbSpec {
        verb: Verb::Lease,
        name: "lease",
        aliases: &[],
        args: &[Path],
        options: &[Max, Timeout, Id, LossPolicy, Retry],
        required: &[Max],
        usage: "lease PATH max = N [timeout = 5s] [id = …] [loss_policy = …] [retry = …]",
    },
    VerbSpec {
        verb: Verb::Latch,
        name: "latch",
        aliases: &[],
        args: &[Path],
        options: &[Id, LossPolicy, Retry],
        required: &[],
        usage: "latch PATH [id = …] [loss_policy = …] [retry = …]",
    },
    VerbSpec {
        verb: Verb::Dosync,
        name: "dosync",
        aliases: &[],
        args: &[ArgKind::Clones, ArgKind::Closure("the transaction's body")],
        options: &[Retry, Markers],
        required: &[],
        usage: "dosync [refs…] |tx| { … } [retry = …] [markers = \"/path\"]",
    },
];

/// The operations of `txn { }`.
pub const TXN: &[VerbSpec] = &[
    VerbSpec {
        verb: Verb::TxnCreate,
        name: "create",
        aliases: &[],
        args: &[Path],
        options: CREATE_OPTIONS,
        required: &[],
        usage: "create PATH [persistent] [sequential] [data = …] [acl = […]] …",
    },
    VerbSpec {
        verb: Verb::TxnSetData,
        name: "set_data",
        aliases: &[],
        args: &[Path, Value("the data")],
        options: &[Version],
        required: &[],
        usage: "set_data PATH VALUE [version = N]",
    },
    VerbSpec {
        verb: Verb::TxnDelete,
        name: "delete",
        aliases: &[],
        args: &[Path],
        options: &[Version],
        required: &[],
        usage: "delete PATH [version = N]",
    },
    VerbSpec {
        verb: Verb::TxnCheck,
        name: "check",
        aliases: &[],
        args: &[Path],
        options: &[Version],
        required: &[],
        usage: "check PATH [version = N]",
    },
];

/// The reads of `multi_read { }`.
pub const MULTI_READ: &[VerbSpec] = &[
    VerbSpec {
        verb: Verb::ReadData,
        name: "get_data",
        aliases: &["data"],
        args: &[Path],
        options: &[],
        required: &[],
        usage: "get_data PATH",
    },
    VerbSpec {
        verb: Verb::ReadChildren,
        name: "children",
        aliases: &["get_children"],
        args: &[Path],
        options: &[],
        required: &[],
        usage: "children PATH",
    },
];

impl Block {
    pub fn verbs(self) -> &'static [VerbSpec] {
        match self {
            Block::Top => TOP,
            Block::Txn => TXN,
            Block::MultiRead => MULTI_READ,
        }
    }

    /// How the block is named in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Block::Top => "zk!",
            Block::Txn => "txn { }",
            Block::MultiRead => "multi_read { }",
        }
    }

    /// The verb called `name` (or one of its aliases) here.
    pub fn find(self, name: &str) -> Option<&'static VerbSpec> {
        self.verbs().iter().find(|v| v.name == name || v.aliases.contains(&name))
    }

    /// The canonical names, for messages.
    pub fn names(self) -> Vec<&'static str> {
        self.verbs().iter().map(|v| v.name).collect()
    }
}

impl VerbSpec {
    pub fn allows(&self, opt: Opt) -> bool {
        self.options.contains(&opt)
    }

    /// Whether `TYPE` in `as TYPE` applies: the reads whose builder has `.decode::<T>()`.
    pub fn decodes(&self) -> bool {
        self.verb == Verb::GetData
    }

    /// Whether `optional` turns `NodeExists` (creates) rather than `NoNode` into `None`.
    pub fn refused_when_present(&self) -> bool {
        matches!(self.verb, Verb::Create | Verb::CreateAll)
    }

    /// Whether `sequential` (or an unknown `mode`) can make this create's path a prefix that
    /// gets a counter appended.
    pub fn creates(&self) -> bool {
        matches!(self.verb, Verb::Create | Verb::CreateAll | Verb::TxnCreate)
    }

    /// The recipe type (in `zk_dsl::recipes`) and the method that starts the acquisition, for
    /// the recipe verbs.
    pub fn recipe(&self) -> Option<(&'static str, &'static str)> {
        Some(match self.verb {
            Verb::Lock => ("Mutex", "acquire"),
            Verb::ReadLock => ("ReadWriteLock", "read"),
            Verb::WriteLock => ("ReadWriteLock", "write"),
            Verb::Lease => ("Semaphore", "acquire"),
            Verb::Latch => ("LeaderLatch", "start"),
            _ => return None,
        })
    }
}

/// The verbs of any block that take `opt`, for "applies to …" hints.
pub fn verbs_with(opt: Opt) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for block in [Block::Top, Block::Txn, Block::MultiRead] {
        for spec in block.verbs() {
            if spec.allows(opt) && !names.contains(&spec.name) {
                names.push(spec.name);
            }
        }
    }
    names
}

/// The watch kinds `remove_watches`/`check_watches` accept by name, and the `WatcherType`
/// variant each stands for.
pub const WATCHER_KINDS: &[(&str, &str)] = &[
    ("data", "Data"),
    ("children", "Children"),
    ("any", "Any"),
    ("persistent", "Persistent"),
    ("persistent_recursive", "PersistentRecursive"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_within_a_block() {
        for block in [Block::Top, Block::Txn, Block::MultiRead] {
            let mut names: Vec<&str> = Vec::new();
            for spec in block.verbs() {
                for name in std::iter::once(spec.name).chain(spec.aliases.iter().copied()) {
                    assert!(!names.contains(&name), "{name} twice in {}", block.describe());
                    names.push(name);
                }
                assert!(spec.required.iter().all(|o| spec.allows(*o)), "{}", spec.name);
                assert!(!spec.usage.is_empty());
            }
        }
    }

    #[test]
    fn every_option_is_used_and_named_once() {
        for opt in Opt::ALL {
            assert_eq!(Opt::from_name(opt.name()), Some(opt));
            for alias in opt.aliases() {
                assert_eq!(Opt::from_name(alias), Some(opt));
            }
            assert!(!verbs_with(opt).is_empty(), "{} is no verb's option", opt.name());
        }
        for (a, b) in CONFLICTS {
            assert_ne!(a, b);
            assert!(!verbs_with(*a).is_empty() && !verbs_with(*b).is_empty());
        }
    }

    #[test]
    fn seed_names_resolve() {
        assert_eq!(Block::Top.find("data").map(|v| v.verb), Some(Verb::GetData));
        assert_eq!(Block::Top.find("add_auth_info").map(|v| v.verb), Some(Verb::AddAuth));
        assert_eq!(Block::Txn.find("check").map(|v| v.verb), Some(Verb::TxnCheck));
        assert!(Block::Txn.find("exists").is_none());
    }

    /// The builder API zk-dsl spells in `zk!`: the files whose by-value (`self`) methods are
    /// builder options of a `zk!` verb.
    const BUILDER_FILES: &[&str] = &[
        "client/call.rs",
        "client/ops/create.rs",
        "client/ops/read.rs",
        "client/ops/write.rs",
        "client/ops/multi.rs",
        "client/ops/misc.rs",
        "client/ops/config.rs",
        "client/ops/watches.rs",
        "recipes/options.rs",
        "recipes/protected.rs",
        "recipes/lock/acquire.rs",
        "recipes/shared/txn.rs",
    ];

    /// Builder methods that are not options, each with the `zk!` spelling that reaches it.
    const NOT_OPTIONS: &[(&str, &str)] = &[
        ("try_acl", "what `acl = [...]` expands to"),
        ("decode", "what `get_data PATH as TYPE` expands to"),
        ("create_with", "what `create` in `txn { }` expands to"),
        ("no_timeout", "a lock without `timeout = …` (the default)"),
    ];

    /// The by-value methods (`fn name(self` / `fn name(mut self`) of a Rust source.
    fn builder_methods(source: &str) -> Vec<String> {
        let mut names = Vec::new();
        for line in source.lines() {
            let Some(rest) = line.trim_start().strip_prefix("pub fn ") else { continue };
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let Some(open) = rest.find('(') else { continue };
            let params = rest[open + 1..].trim_start();
            if params.starts_with("self") || params.starts_with("mut self") {
                names.push(name);
            }
        }
        names
    }

    /// The table restates zk-dsl's builder API by hand; this keeps the two from drifting:
    /// every builder option method of zk-dsl must be an option (or a verb of a block, or
    /// listed in `NOT_OPTIONS` with the spelling that reaches it). The other direction (every
    /// option is a real method) is what the expansions compiling in the root suite's
    /// `tests/macros.rs` and the UI tests check. Skipped outside the workspace (a packaged
    /// crate has no zk-dsl sources beside it).
    #[test]
    fn every_builder_option_has_a_spelling() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../zk-dsl/src");
        if !root.is_dir() {
            eprintln!("skipped: no zk-dsl sources at {}", root.display());
            return;
        }
        let verb_names =
            |name: &str| [Block::Top, Block::Txn, Block::MultiRead].into_iter().any(|b| b.find(name).is_some());
        let mut seen = 0;
        for file in BUILDER_FILES {
            let path = root.join(file);
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for name in builder_methods(&source) {
                seen += 1;
                let spelt =
                    Opt::from_name(&name).is_some() || verb_names(&name) || NOT_OPTIONS.iter().any(|(n, _)| *n == name);
                assert!(spelt, "builder method `{name}` ({file}) has no `zk!` spelling: add it to spec.rs");
            }
        }
        assert!(seen > 20, "found only {seen} builder methods: did the sources move?");
        for (name, _) in NOT_OPTIONS {
            assert!(Opt::from_name(name).is_none(), "{name} is an option now");
        }
    }
}
