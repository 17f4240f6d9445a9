//! The numbers ZooKeeper puts on the wire as typed enums: operation codes, error codes, watch
//! event types, session states, create modes and watch kinds. An unknown number is a
//! [`DecodeError`], never a panic and never silently mapped to something else.

use std::fmt;

use super::DecodeError;

/// Declares an `i32`-backed enum with lossless conversions both ways and a readable name.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $value:expr ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name { $( $(#[$vmeta])* $variant ),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The number ZooKeeper uses for this value.
            pub const fn code(self) -> i32 {
                match self { $($name::$variant => $value),+ }
            }

            /// The Java enum constant's name (`NoNode`, `SyncConnected`, ...).
            pub const fn name(self) -> &'static str {
                match self { $($name::$variant => stringify!($variant)),+ }
            }

            /// The value for a number read off the wire.
            pub fn from_code(code: i32) -> Result<Self, DecodeError> {
                match code {
                    $(c if c == $value => Ok($name::$variant),)+
                    other => Err(DecodeError::UnknownValue { kind: stringify!($name), value: other }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        impl TryFrom<i32> for $name {
            type Error = DecodeError;
            fn try_from(code: i32) -> Result<Self, DecodeError> {
                Self::from_code(code)
            }
        }
    };
}

wire_enum! {
    /// `ZooDefs.OpCode`: the operation a request performs.
    pub enum OpCode {
        Notification = 0,
        Create = 1,
        Delete = 2,
        Exists = 3,
        GetData = 4,
        SetData = 5,
        GetAcl = 6,
        SetAcl = 7,
        GetChildren = 8,
        Sync = 9,
        Ping = 11,
        GetChildren2 = 12,
        Check = 13,
        Multi = 14,
        Create2 = 15,
        Reconfig = 16,
        CheckWatches = 17,
        RemoveWatches = 18,
        CreateContainer = 19,
        DeleteContainer = 20,
        CreateTtl = 21,
        MultiRead = 22,
        Auth = 100,
        SetWatches = 101,
        Sasl = 102,
        GetEphemerals = 103,
        GetAllChildrenNumber = 104,
        SetWatches2 = 105,
        AddWatch = 106,
        WhoAmI = 107,
        CreateSession = -10,
        CloseSession = -11,
        Error = -1,
    }
}

wire_enum! {
    /// `KeeperException.Code`: why the server refused a request.
    pub enum ErrorCode {
        Ok = 0,
        SystemError = -1,
        RuntimeInconsistency = -2,
        DataInconsistency = -3,
        ConnectionLoss = -4,
        MarshallingError = -5,
        Unimplemented = -6,
        OperationTimeout = -7,
        BadArguments = -8,
        UnknownSession = -12,
        NewConfigNoQuorum = -13,
        ReconfigInProgress = -14,
        ApiError = -100,
        NoNode = -101,
        NoAuth = -102,
        BadVersion = -103,
        NoChildrenForEphemerals = -108,
        NodeExists = -110,
        NotEmpty = -111,
        SessionExpired = -112,
        InvalidCallback = -113,
        InvalidAcl = -114,
        AuthFailed = -115,
        SessionMoved = -118,
        NotReadOnly = -119,
        EphemeralOnLocalSession = -120,
        NoWatcher = -121,
        RequestTimeout = -122,
        ReconfigDisabled = -123,
        SessionClosedRequireSaslAuth = -124,
        QuotaExceeded = -125,
        ThrottledOp = -127,
    }
}

wire_enum! {
    /// `Watcher.Event.EventType`: what happened to a watched node (`None` for session events).
    pub enum EventType {
        None = -1,
        NodeCreated = 1,
        NodeDeleted = 2,
        NodeDataChanged = 3,
        NodeChildrenChanged = 4,
        DataWatchRemoved = 5,
        ChildWatchRemoved = 6,
        PersistentWatchRemoved = 7,
    }
}

wire_enum! {
    /// `Watcher.Event.KeeperState`: the session's state when an event was raised.
    pub enum KeeperState {
        Unknown = -1,
        Disconnected = 0,
        NoSyncConnected = 1,
        SyncConnected = 3,
        AuthFailed = 4,
        ConnectedReadOnly = 5,
        SaslAuthenticated = 6,
        Expired = -112,
        Closed = 7,
    }
}

wire_enum! {
    /// `CreateMode`: the kind of node a create makes. The flag value is what goes on the wire;
    /// containers and TTL nodes also need their own opcode (see [`CreateMode::opcode`]).
    pub enum CreateMode {
        Persistent = 0,
        Ephemeral = 1,
        PersistentSequential = 2,
        EphemeralSequential = 3,
        Container = 4,
        PersistentWithTtl = 5,
        PersistentSequentialWithTtl = 6,
    }
}

impl CreateMode {
    /// The mode for the seed's two flags (`:persistent?`, `:sequential?`).
    pub const fn from_flags(persistent: bool, sequential: bool) -> Self {
        match (persistent, sequential) {
            (true, false) => CreateMode::Persistent,
            (false, false) => CreateMode::Ephemeral,
            (true, true) => CreateMode::PersistentSequential,
            (false, true) => CreateMode::EphemeralSequential,
        }
    }

    pub const fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    pub const fn is_ephemeral(self) -> bool {
        matches!(self, CreateMode::Ephemeral | CreateMode::EphemeralSequential)
    }

    pub const fn is_ttl(self) -> bool {
        matches!(self, CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl)
    }

    /// The opcode that really creates this kind of node when the Stat is wanted back. A
    /// container sent through plain create (1) silently becomes a persistent node, a bug several
    /// clients ship; it must go through createContainer (19), and TTL nodes through createTTL (21).
    pub const fn opcode(self) -> OpCode {
        match self {
            CreateMode::Container => OpCode::CreateContainer,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl => OpCode::CreateTtl,
            _ => OpCode::Create2,
        }
    }
}

wire_enum! {
    /// `AddWatchMode`: the kind of watch `addWatch` sets.
    pub enum AddWatchMode {
        Persistent = 0,
        PersistentRecursive = 1,
    }
}

wire_enum! {
    /// `Watcher.WatcherType`: which watches `removeWatches`/`checkWatches` act on.
    /// `Persistent` and `PersistentRecursive` are understood by servers from 3.9.0 on; older
    /// servers remove persistent watches with `Any`.
    pub enum WatcherType {
        Children = 1,
        Data = 2,
        Any = 3,
        Persistent = 4,
        PersistentRecursive = 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for op in OpCode::ALL {
            assert_eq!(OpCode::from_code(op.code()).unwrap(), *op);
        }
        for e in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(e.code()).unwrap(), *e);
        }
        for s in KeeperState::ALL {
            assert_eq!(KeeperState::from_code(s.code()).unwrap(), *s);
        }
        for t in EventType::ALL {
            assert_eq!(EventType::from_code(t.code()).unwrap(), *t);
        }
    }

    #[test]
    fn unknown_codes_are_errors() {
        assert!(OpCode::from_code(10).is_err());
        assert!(ErrorCode::from_code(-126).is_err());
        assert!(EventType::from_code(0).is_err());
        assert!(KeeperState::from_code(2).is_err());
    }

    #[test]
    fn create_modes_pick_the_right_opcode() {
        assert_eq!(CreateMode::Container.opcode(), OpCode::CreateContainer);
        assert_eq!(CreateMode::PersistentWithTtl.opcode(), OpCode::CreateTtl);
        assert_eq!(CreateMode::from_flags(false, false), CreateMode::Ephemeral);
        assert_eq!(CreateMode::from_flags(true, true).code(), 2);
    }
}
