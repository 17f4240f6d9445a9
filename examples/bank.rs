//! Money moving between accounts in transactions over `Ref`s (Avout's `dosync`, optimistic and
//! typed): every transfer reads both balances and writes both in one multi that applies only if
//! neither changed meanwhile, so however many processes transfer at once, no money is made or
//! lost and no account goes negative.
//!
//! ```sh
//! cargo run --example bank -- [CONNECT [ROOT [NAME [TRANSFERS]]]]
//! ```
//!
//! `CONNECT` defaults to `$ZK_CONNECT`, then `127.0.0.1:2181`; `ROOT` to `/example-bank`; `NAME`
//! to `teller-<pid>`; `TRANSFERS` to 0 (until the end of standard input). Pass `-` to keep a
//! default. The bank has 5 accounts, `<ROOT>/acct-0` … `acct-4`, each an 8-byte big-endian
//! `i64` starting at 100 (a missing node holds 100, so the first transfer creates it). Start it
//! in several terminals: the `TOTAL` lines always say 500.
//!
//! Output, one line per event: `TRANSFER <name> <from> <to> <amount>` for each committed
//! transfer, `REFUSED <name> <from> <to> <amount>` when the payer could not afford it, `TOTAL
//! <name> <sum> <balances>` every 10 transfers and at the end (one consistent snapshot), and
//! `DONE <name>`.

mod common;

use common::{arg, connect_string, exit, stdin_closed};
use std::process::ExitCode;
use std::time::Duration;

use zk_dsl::recipes::{Ref, Transaction};
use zk_dsl::Client;

const ACCOUNTS: usize = 5;
const OPENING_BALANCE: i64 = 100;
const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> ExitCode {
    exit("bank", run().await)
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let connect_string = connect_string(1);
    let root = arg(2).unwrap_or("/example-bank".into());
    let me = arg(3).unwrap_or_else(|| format!("teller-{}", std::process::id()));
    let transfers: u64 = arg(4).map(|t| t.parse()).transpose()?.unwrap_or(0);

    let client = Client::connect(connect_string).session_timeout(SESSION_TIMEOUT).await?;
    let accounts: Vec<Ref<i64>> =
        (0..ACCOUNTS).map(|i| Ref::new(format!("{root}/acct-{i}"), OPENING_BALANCE)).collect();
    // Commit markers (see `Transaction`) next to the accounts.
    let bank = Transaction::new(&client).markers(format!("{root}-txn"));
    let mut stdin_open = stdin_closed();

    let mut done = 0;
    while transfers == 0 || done < transfers {
        let from = fastrand::usize(..ACCOUNTS);
        let to = (from + fastrand::usize(1..ACCOUNTS)) % ACCOUNTS;
        let amount = fastrand::i64(1..=30);
        let transfer = bank.run(|tx| {
            let (payer, payee) = (accounts[from].clone(), accounts[to].clone());
            async move {
                let balance = tx.get(&payer).await?;
                if balance < amount {
                    return Ok(false); // nothing written: commits as a no-op
                }
                tx.set(&payer, &(balance - amount)).await?;
                tx.alter(&payee, |b| b + amount).await?;
                Ok(true)
            }
        });
        let committed = tokio::select! {
            committed = transfer => committed?,
            _ = &mut stdin_open => break,
        };
        let tag = if committed { "TRANSFER" } else { "REFUSED" };
        println!("{tag} {me} acct-{from} acct-{to} {amount}");
        done += 1;
        if done % 10 == 0 {
            print_total(&bank, &accounts, &me).await?;
        }
    }
    print_total(&bank, &accounts, &me).await?;
    client.close().await?;
    println!("DONE {me}");
    Ok(())
}

/// Every balance from one consistent snapshot (a read-only transaction).
async fn print_total(bank: &Transaction, accounts: &[Ref<i64>], me: &str) -> zk_dsl::Result<()> {
    let balances = bank
        .run(|tx| {
            let accounts = accounts.to_vec();
            async move {
                let mut balances = Vec::with_capacity(accounts.len());
                for account in &accounts {
                    balances.push(tx.get(account).await?);
                }
                Ok(balances)
            }
        })
        .await?;
    let listed: Vec<String> = balances.iter().map(i64::to_string).collect();
    println!("TOTAL {me} {} {}", balances.iter().sum::<i64>(), listed.join(","));
    Ok(())
}
