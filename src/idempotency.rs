//! The `Idempotency-Key` header on mutations (DESIGN.md "Qualities"): per client, the first
//! answer to a key is kept for at least 24 hours and replayed to every retry with the same body;
//! the same key with another body is refused; a retry while the first is still running gets a
//! CONFLICT.
//!
//! A request claims its key before it runs (one conditional insert, so of fifty concurrent
//! retries exactly one runs) and holds it for a lease as long as the execution timeout. The
//! answer is kept once the mutation has answered. Answers that say nothing was decided — a
//! timeout, the database unreachable, an internal fault — are not kept: the key is released and
//! a retry runs again. Should the node stop between the mutation's commit and the keeping of its
//! answer, the lease runs out and a retry runs the mutation again; the natural keys
//! (`externalId`, `sourceRef`) then answer it as the replay it is.

use chrono::{DateTime, Duration, Utc};
use entity::idempotency_key;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryTrait, sea_query::OnConflict,
};

use crate::error::AppError;

/// The longest key.
pub const MAX_KEY_LEN: usize = 255;

/// What a request with a key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Run the request: the key is this request's until it completes or releases it.
    Run,
    /// The first request with this key answered this: send it again.
    Replay { status: u16, body: String },
    /// The key was used with another body.
    Mismatch,
    /// The first request with this key is still running.
    InFlight,
}

/// Checks a key as sent: 1 to 255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(format!(
            "the Idempotency-Key header holds 1 to {MAX_KEY_LEN} characters"
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "the Idempotency-Key header holds visible ASCII characters only (a UUID is a good key)"
                .into(),
        );
    }
    Ok(())
}

const RUNNING: &str = "RUNNING";
const DONE: &str = "DONE";

/// Claims `key` for `client` for a request whose body hashes to `hash`.
pub async fn claim(
    db: &impl ConnectionTrait,
    client: &str,
    key: &str,
    hash: &str,
    lease: Duration,
    keep: Duration,
) -> Result<Claim, DbErr> {
    // Twice at most: once more after clearing an expired answer under the same key.
    for _ in 0..2 {
        let now = Utc::now();
        let insert = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
            client_id: Set(client.to_owned()),
            key: Set(key.to_owned()),
            request_hash: Set(hash.to_owned()),
            state: Set(RUNNING.to_owned()),
            status_code: Set(None),
            response: Set(None),
            lease_until: Set(now + lease),
            expires_at: Set(now + keep),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                idempotency_key::Column::ClientId,
                idempotency_key::Column::Key,
            ])
            .do_nothing()
            .to_owned(),
        )
        .into_query();
        if db.execute(&insert).await?.rows_affected() == 1 {
            return Ok(Claim::Run);
        }
        let Some(found) = idempotency_key::Entity::find_by_id((client.to_owned(), key.to_owned()))
            .one(db)
            .await?
        else {
            continue;
        };
        if found.expires_at <= now {
            forget(db, client, key, Some(now)).await?;
            continue;
        }
        if found.request_hash != hash {
            return Ok(Claim::Mismatch);
        }
        if found.state == DONE {
            return Ok(Claim::Replay {
                status: found
                    .status_code
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(200),
                body: found.response.unwrap_or_default(),
            });
        }
        // Running: take it over only if its holder's lease ran out (the holder stopped).
        if found.lease_until < now {
            let taken = idempotency_key::Entity::update_many()
                .set(idempotency_key::ActiveModel {
                    lease_until: Set(now + lease),
                    ..Default::default()
                })
                .filter(idempotency_key::Column::ClientId.eq(client))
                .filter(idempotency_key::Column::Key.eq(key))
                .filter(idempotency_key::Column::State.eq(RUNNING))
                .filter(idempotency_key::Column::LeaseUntil.eq(found.lease_until))
                .exec(db)
                .await?;
            if taken.rows_affected == 1 {
                return Ok(Claim::Run);
            }
        }
        return Ok(Claim::InFlight);
    }
    Ok(Claim::InFlight)
}

/// Keeps the answer of the request that claimed `key`.
pub async fn complete(
    db: &impl ConnectionTrait,
    client: &str,
    key: &str,
    status: u16,
    body: String,
) -> Result<(), DbErr> {
    idempotency_key::Entity::update_many()
        .set(idempotency_key::ActiveModel {
            state: Set(DONE.to_owned()),
            status_code: Set(Some(i32::from(status))),
            response: Set(Some(body)),
            ..Default::default()
        })
        .filter(idempotency_key::Column::ClientId.eq(client))
        .filter(idempotency_key::Column::Key.eq(key))
        .exec(db)
        .await?;
    Ok(())
}

/// Releases a key whose request decided nothing, so that a retry runs again.
pub async fn release(db: &impl ConnectionTrait, client: &str, key: &str) -> Result<(), DbErr> {
    forget(db, client, key, None).await
}

async fn forget(
    db: &impl ConnectionTrait,
    client: &str,
    key: &str,
    expired_at: Option<DateTime<Utc>>,
) -> Result<(), DbErr> {
    let mut delete = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::ClientId.eq(client))
        .filter(idempotency_key::Column::Key.eq(key));
    if let Some(at) = expired_at {
        delete = delete.filter(idempotency_key::Column::ExpiresAt.lte(at));
    }
    delete.exec(db).await?;
    Ok(())
}

/// Deletes the answers kept past their time; answers how many.
pub async fn purge(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::ExpiresAt.lte(now))
        .exec(db)
        .await?
        .rows_affected)
}

/// What happens to a key: claimed before its request runs, then completed with the answer or
/// released. Many requests' steps share one transaction through a [`crate::writer::Batcher`]:
/// on SQLite a single-row write per step, each taking the write lock on its own, was what made
/// requests with the header slow.
#[derive(Debug, Clone)]
pub enum Step {
    Claim {
        client: String,
        key: String,
        hash: String,
        lease: Duration,
        keep: Duration,
    },
    Complete {
        client: String,
        key: String,
        status: u16,
        body: String,
    },
    Release {
        client: String,
        key: String,
    },
}

/// The outcome of a step: a claim's answer, or `None` for completing and releasing.
pub type StepOutcome = Option<Claim>;

impl Step {
    fn id(&self) -> (&str, &str) {
        match self {
            Self::Claim { client, key, .. }
            | Self::Complete { client, key, .. }
            | Self::Release { client, key } => (client, key),
        }
    }
}

/// Runs a batch of steps in one transaction, in key order (so that concurrent batches take
/// their row locks alike), and answers them in the order given.
pub async fn run_steps(
    db: DatabaseConnection,
    steps: Vec<Step>,
) -> Result<Vec<StepOutcome>, AppError> {
    let mut order: Vec<usize> = (0..steps.len()).collect();
    order.sort_by(|a, b| steps[*a].id().cmp(&steps[*b].id()));
    let mut slots: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    let mut outcomes: Vec<StepOutcome> = vec![None; slots.len()];
    let txn = crate::db::begin_write(&db).await?;
    for i in order {
        let Some(step) = slots[i].take() else {
            continue;
        };
        outcomes[i] = match step {
            Step::Claim {
                client,
                key,
                hash,
                lease,
                keep,
            } => Some(claim(&txn, &client, &key, &hash, lease, keep).await?),
            Step::Complete {
                client,
                key,
                status,
                body,
            } => {
                complete(&txn, &client, &key, status, body).await?;
                None
            }
            Step::Release { client, key } => {
                release(&txn, &client, &key).await?;
                None
            }
        };
    }
    txn.commit().await?;
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_visible_ascii_of_bounded_length() {
        assert!(check_key("0b7d0d2e-8a1f-4c8e-9d3c-5f6a7b8c9d0e").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key(&"k".repeat(MAX_KEY_LEN)).is_ok());
        assert!(check_key(&"k".repeat(MAX_KEY_LEN + 1)).is_err());
        assert!(check_key("a b").is_err());
        assert!(check_key("键").is_err());
    }
}
