//! Demo commitments: notification-commitments the approval hall recorded and self-discipline
//! commitments of the catering association, some verified as kept, one breached (which enters
//! the subject's record and rating), one overdue, one withdrawn and one typical case. Loaded
//! through the same service as the API, once.

use chrono::Duration;
use entity::{commitment, subject};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::audit::Actor;
use crate::auth::{Caller, Principal, Role};
use crate::commitments::rules::Draft;
use crate::commitments::service::{self, Recorded, Verification};
use crate::commitments::{CommitmentKind, VerificationOutcome};
use crate::error::AppError;
use crate::records::service::china_today;
use crate::state::AppState;

/// What happens to a demo commitment after it is recorded.
#[derive(Clone, Copy)]
enum Then {
    Pending,
    Fulfilled,
    FulfilledTypical,
    Breached,
    Withdrawn,
}

/// One demo commitment: who records it, for what, and what becomes of it.
struct Planned {
    recorder: &'static str,
    role: Role,
    kind: CommitmentKind,
    matter: &'static str,
    department: &'static str,
    /// Made this many days ago.
    made: i64,
    /// To be verified by this many days from today (negative: in the past).
    ahead: i64,
    then: Then,
}

const fn planned(
    (recorder, role, kind): (&'static str, Role, CommitmentKind),
    (matter, department): (&'static str, &'static str),
    (made, ahead, then): (i64, i64, Then),
) -> Planned {
    Planned {
        recorder,
        role,
        kind,
        matter,
        department,
        made,
        ahead,
        then,
    }
}

const HALL: (&str, Role) = ("APPROVAL_HALL", Role::ApprovalHall);
const ASSOCIATION: (&str, Role) = ("CATERING_ASSOCIATION", Role::Partner);

const PLAN: &[Planned] = &[
    planned(
        (HALL.0, HALL.1, CommitmentKind::BusinessNotification),
        ("食品经营许可", "MARKET_REGULATION"),
        (120, -30, Then::FulfilledTypical),
    ),
    planned(
        (HALL.0, HALL.1, CommitmentKind::BusinessNotification),
        ("食品经营许可", "MARKET_REGULATION"),
        (90, -10, Then::Breached),
    ),
    planned(
        (HALL.0, HALL.1, CommitmentKind::CertificationNotification),
        (
            "建筑工程施工许可（无拖欠农民工工资证明）",
            "HOUSING_CONSTRUCTION",
        ),
        (60, -5, Then::Fulfilled),
    ),
    planned(
        (HALL.0, HALL.1, CommitmentKind::CertificationNotification),
        ("道路货物运输经营许可（车辆技术状况证明）", "TRANSPORT"),
        (45, -3, Then::Pending),
    ),
    planned(
        (HALL.0, HALL.1, CommitmentKind::BusinessNotification),
        ("公共场所卫生许可", "HEALTH"),
        (20, 40, Then::Pending),
    ),
    planned(
        (HALL.0, HALL.1, CommitmentKind::CertificationNotification),
        ("社会保险登记（参保缴费证明）", "HUMAN_RESOURCES"),
        (15, 45, Then::Withdrawn),
    ),
    planned(
        (
            ASSOCIATION.0,
            ASSOCIATION.1,
            CommitmentKind::IndustrySelfDiscipline,
        ),
        ("餐饮行业诚信经营自律承诺", "MARKET_REGULATION"),
        (200, -20, Then::Fulfilled),
    ),
    planned(
        (
            ASSOCIATION.0,
            ASSOCIATION.1,
            CommitmentKind::IndustrySelfDiscipline,
        ),
        ("餐饮行业诚信经营自律承诺", "MARKET_REGULATION"),
        (30, 150, Then::Pending),
    ),
    planned(
        (ASSOCIATION.0, ASSOCIATION.1, CommitmentKind::Voluntary),
        ("明码标价、不使用过期原料", "MARKET_REGULATION"),
        (10, 80, Then::Pending),
    ),
    planned(
        (HALL.0, HALL.1, CommitmentKind::Voluntary),
        ("安全生产主体责任承诺", "EMERGENCY_MANAGEMENT"),
        (70, 20, Then::Pending),
    ),
];

fn caller(org: &str, role: Role) -> (Caller, Actor) {
    let principal = Principal {
        client_id: "demo-data".into(),
        organization: org.into(),
        role,
        scopes: role
            .default_scopes()
            .iter()
            .map(|s| (*s).to_string())
            .collect(),
    };
    let actor = Actor {
        request_id: Some("cli:demo-data".into()),
        principal: Some(principal.clone()),
    };
    (Caller::Authenticated(principal), actor)
}

fn refused(what: &str, errors: &[crate::error::FieldError]) -> AppError {
    AppError::internal(format!("demo commitment {what} refused: {errors:?}"))
}

/// Loads the demo commitments unless there are commitments already; answers how many.
pub async fn load(state: &AppState) -> Result<usize, AppError> {
    if commitment::Entity::find().count(&state.db).await? > 0 {
        return Ok(0);
    }
    let subjects: Vec<subject::Model> = subject::Entity::find()
        .filter(subject::Column::Kind.is_in(["ENTERPRISE", "INDIVIDUAL_BUSINESS"]))
        .order_by_asc(subject::Column::Id)
        .limit(PLAN.len() as u64)
        .all(&state.db)
        .await?;
    let today = china_today();
    let mut loaded = 0;
    for (n, (s, plan)) in subjects.iter().zip(PLAN).enumerate() {
        let &Planned {
            recorder: org,
            role,
            kind,
            matter,
            department,
            made,
            ahead,
            then,
        } = plan;
        let (recorder, recorder_actor) = caller(org, role);
        let Some(principal) = recorder.principal() else {
            continue;
        };
        let draft = Draft {
            external_id: format!("DEMO-{org}-{:04}", n + 1),
            kind,
            matter: matter.into(),
            content: format!(
                "{}郑重承诺：所提交材料真实、合法、有效，已符合{matter}的条件和标准，\
                 愿意接受核查；如有不实或违反承诺，愿意承担相应法律责任，并同意记入信用记录。",
                s.name
            ),
            made_on: Some(today - Duration::days(made)),
            verify_by: today + Duration::days(ahead),
            department: department.into(),
        };
        let id = match service::record(state, principal, &recorder_actor, s, draft).await? {
            Ok(Recorded::Created(c) | Recorded::Replayed(c)) => c.id,
            Err(errors) => return Err(refused("record", &errors)),
        };
        loaded += 1;
        let (verifier, verifier_actor) = caller(department, Role::Department);
        let verify = |outcome, note: &str| Verification {
            id,
            outcome,
            note: note.into(),
            verified_on: Some(today - Duration::days((made / 3).max(1))),
            severity: None,
        };
        let outcome = match then {
            Then::Pending => None,
            Then::Fulfilled | Then::FulfilledTypical => Some(verify(
                VerificationOutcome::Fulfilled,
                "经现场核查，承诺事项与实际情况一致，已践诺。",
            )),
            Then::Breached => Some(verify(
                VerificationOutcome::Breached,
                "经现场核查，经营场所布局与承诺不符，未在限期内整改。",
            )),
            Then::Withdrawn => {
                if let Err(errors) = service::withdraw(
                    &state.db,
                    &recorder,
                    &recorder_actor,
                    id,
                    "申请人撤回申请，补交证明材料。",
                )
                .await?
                {
                    return Err(refused("withdrawal", &errors));
                }
                None
            }
        };
        if let Some(v) = outcome
            && let Err(errors) = service::verify(&state.db, &verifier, &verifier_actor, v).await?
        {
            return Err(refused("verification", &errors));
        }
        if matches!(then, Then::FulfilledTypical) {
            let (_, admin) = caller("PLATFORM", Role::Admin);
            if let Err(errors) = service::mark_typical(
                &state.db,
                &admin,
                id,
                true,
                Some("告知承诺“先证后查”践诺典型：承诺即办，核查属实。"),
            )
            .await?
            {
                return Err(refused("typical case", &errors));
            }
        }
    }
    Ok(loaded)
}
