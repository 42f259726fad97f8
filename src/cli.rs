//! The command line: `serve`, `migrate`, `schema`, `token`, `client`, `demo-data`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::app::{Application, prepare_state};
use crate::audit::Actor;
use crate::auth::{Principal, Role, clients};
use crate::config::{LogFormat, Mode, Settings};

/// credit-hub: the GraphQL backend of a county public credit information platform.
#[derive(Parser, Debug)]
#[command(name = "credit-hub", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command accepts; they override the file and the environment.
#[derive(Args, Debug, Clone)]
pub struct GlobalArgs {
    /// A TOML configuration file (default: ./credit-hub.toml when it exists).
    #[arg(long, global = true, env = "CREDIT_HUB_CONFIG")]
    pub config: Option<PathBuf>,
    /// The database, e.g. sqlite://credit-hub.db?mode=rwc or postgres://user@host/db.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Run in production mode: refuse to start without configured secrets.
    #[arg(long, global = true)]
    pub production: bool,
    /// Write logs as JSON lines.
    #[arg(long, global = true)]
    pub json_logs: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Apply pending migrations and serve the API.
    Serve {
        /// The address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<String>,
        /// Load the demo organizations and subjects (idempotent).
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL); schema.graphql is this output.
    Schema,
    /// Mint a token for local use and print it alone on standard output.
    Token {
        /// ADMIN, DEPARTMENT, APPROVAL_HALL, BANK, APP or PARTNER.
        #[arg(long)]
        role: String,
        /// The organization code, e.g. PLATFORM.
        #[arg(long)]
        org: String,
        /// The token's subject (client id); default: cli:<org>.
        #[arg(long)]
        sub: Option<String>,
        /// Lifetime in seconds (default: token_ttl_seconds).
        #[arg(long)]
        ttl: Option<u64>,
    },
    /// Manage API clients.
    Client {
        #[command(subcommand)]
        action: ClientAction,
    },
    /// Load the demo data set (organizations, subjects, records, list entries) and exit; with
    /// `--subjects N`, generate N organizations with K records each instead (bulk, from a seed;
    /// no ratings: run `evaluate` after it).
    DemoData {
        /// Generate this many subjects (e.g. 1000000).
        #[arg(long)]
        subjects: Option<u64>,
        /// Records per generated subject.
        #[arg(long, default_value_t = 10)]
        records_per_subject: u32,
        /// The seed: the same seed gives the same data; another seed gives other codes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Re-rate every subject a model applies to (the annual public credit comprehensive
    /// evaluation), with a progress bar. Joins or resumes the model's unfinished run, so it is
    /// safe to run again after a crash and on several nodes at once.
    Evaluate {
        /// The model's code.
        #[arg(long, default_value = "PUBLIC_COMPREHENSIVE")]
        model: String,
        /// The evaluation date, YYYY-MM-DD (default: today in China).
        #[arg(long)]
        as_of: Option<chrono::NaiveDate>,
    },
    /// The working-day calendar.
    Calendar {
        #[command(subcommand)]
        action: CalendarAction,
    },
}

#[derive(Subcommand, Debug)]
pub enum CalendarAction {
    /// Load a holiday notice: lines `date,kind,holiday` (kind HOLIDAY or WORKDAY), as in
    /// cn-workday-calendar.csv.
    Import {
        /// The CSV file.
        file: PathBuf,
        /// The years the file covers (default: every year with at least four days in it).
        #[arg(long, value_delimiter = ',')]
        years: Vec<i32>,
        /// Where the days come from, e.g. the notice's number.
        #[arg(long)]
        source: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClientAction {
    /// Create a client; prints its id and secret once.
    Create {
        /// The organization code.
        #[arg(long)]
        org: String,
        /// The role of the client's tokens.
        #[arg(long)]
        role: String,
        /// A name for people.
        #[arg(long)]
        name: Option<String>,
        /// Space-separated scopes (default: all of the role's).
        #[arg(long)]
        scopes: Option<String>,
    },
    /// List clients.
    List,
    /// Disable a client; its secret stops working at once.
    Disable {
        /// The client id.
        client_id: String,
    },
}

/// A failed command, printed to standard error; the process exits with 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct CliError(pub String);

fn settings(global: &GlobalArgs) -> Result<Settings, CliError> {
    let mut settings =
        Settings::load(global.config.as_deref()).map_err(|e| CliError(e.to_string()))?;
    if let Some(url) = &global.database_url {
        settings.database_url = url.clone();
    }
    if global.production {
        settings.mode = Mode::Production;
    }
    if global.json_logs {
        settings.log_format = LogFormat::Json;
    }
    settings.check().map_err(|e| CliError(e.to_string()))?;
    Ok(settings)
}

fn parse_role(role: &str) -> Result<Role, CliError> {
    Role::parse(role).ok_or_else(|| {
        CliError(format!(
            "unknown role {role}; use one of ADMIN, DEPARTMENT, APPROVAL_HALL, BANK, APP, PARTNER"
        ))
    })
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Schema = cli.command {
        print!("{}", crate::graphql::sdl());
        return Ok(());
    }
    let mut settings = settings(&cli.global)?;
    // Commands that print a result keep standard output for it; logs go to standard error.
    let level = match cli.command {
        Command::Serve { .. } => settings.log_level.clone(),
        _ => "warn".to_owned(),
    };
    crate::telemetry::init(settings.log_format, &level);
    match cli.command {
        Command::Schema => Ok(()),
        Command::Serve { bind, demo } => {
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            let app = Application::build(settings, demo)
                .await
                .map_err(|e| CliError(e.to_string()))?;
            app.run_until_stopped()
                .await
                .map_err(|e| CliError(format!("server error: {e}")))
        }
        Command::Migrate => {
            prepare_state(settings)
                .await
                .map_err(|e| CliError(e.to_string()))?;
            eprintln!("migrations applied");
            Ok(())
        }
        Command::DemoData {
            subjects: Some(subjects),
            records_per_subject,
            seed,
        } => {
            let state = prepare_state(settings.for_bulk_work())
                .await
                .map_err(|e| CliError(e.to_string()))?;
            crate::demo::load_organizations(&state.db)
                .await
                .map_err(|e| CliError(e.detail()))?;
            let townships = crate::reference::regions(&state.db, None, Some("TOWNSHIP"))
                .await
                .map_err(|e| CliError(e.detail()))?
                .into_iter()
                .map(|r| r.code)
                .collect::<Vec<_>>();
            let started = std::time::Instant::now();
            let bar = indicatif::ProgressBar::new(subjects);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} subjects  {per_sec}  eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let plan = crate::demo::bulk::Plan {
                subjects,
                records_per_subject,
                seed,
            };
            let made = crate::demo::bulk::generate(&state.db, plan, &townships, |done, _| {
                bar.set_position(done)
            })
            .await
            .map_err(|e| CliError(e.message()))?;
            bar.finish();
            eprintln!(
                "generated {} subjects and {} records in {:.1} s",
                made.subjects,
                made.records,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::DemoData { subjects: None, .. } => {
            let state = prepare_state(settings)
                .await
                .map_err(|e| CliError(e.to_string()))?;
            let loaded = crate::demo::load(&state)
                .await
                .map_err(|e| CliError(format!("cannot load the demo data: {}", e.detail())))?;
            eprintln!(
                "demo data loaded: {} new organizations, {} new subjects, {} new records, {} new commitments",
                loaded.organizations, loaded.subjects, loaded.records, loaded.commitments
            );
            Ok(())
        }
        Command::Evaluate { model, as_of } => {
            let state = prepare_state(settings.for_bulk_work())
                .await
                .map_err(|e| CliError(e.to_string()))?;
            let run = match crate::ratings::evaluation::start(
                &state.db,
                &Actor::cli("evaluate"),
                model.trim(),
                as_of,
                crate::ratings::evaluation::CHUNK,
            )
            .await
            .map_err(|e| CliError(e.detail()))?
            {
                Ok(run) => run,
                Err(errors) => {
                    return Err(CliError(
                        errors
                            .iter()
                            .map(|e| format!("--{}: {}", e.field.join("."), e.message))
                            .collect::<Vec<_>>()
                            .join("\n"),
                    ));
                }
            };
            eprintln!(
                "evaluation run {} of {} v{} as of {}: {} subjects",
                run.id, run.model_code, run.model_version, run.as_of, run.total
            );
            let started = std::time::Instant::now();
            let bar = indicatif::ProgressBar::new(u64::try_from(run.total).unwrap_or(0));
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} subjects  {per_sec}  eta {eta}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let done = crate::ratings::evaluation::work(
                &state.db,
                run.id,
                crate::ratings::evaluation::workers(&state.db),
                |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                },
            )
            .await
            .map_err(|e| CliError(e.detail()))?;
            bar.finish();
            eprintln!(
                "run {} {}: {} of {} subjects rated in {:.1} s",
                done.id,
                done.status,
                done.done,
                done.total,
                started.elapsed().as_secs_f64()
            );
            Ok(())
        }
        Command::Calendar {
            action:
                CalendarAction::Import {
                    file,
                    years,
                    source,
                },
        } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| CliError(format!("cannot read {}: {e}", file.display())))?;
            let days = crate::calendar::rules::parse_calendar_csv(&text).map_err(|errors| {
                CliError(
                    errors
                        .iter()
                        .map(|e| format!("{}:{}: {}", file.display(), e.line, e.message))
                        .collect::<Vec<_>>()
                        .join("\n"),
                )
            })?;
            let years: Vec<i32> = if years.is_empty() {
                crate::calendar::rules::covered_years(&days)
                    .into_iter()
                    .collect()
            } else {
                years
            };
            let state = prepare_state(settings)
                .await
                .map_err(|e| CliError(e.to_string()))?;
            let source = source.unwrap_or_else(|| file.display().to_string());
            crate::calendar::service::import(
                &state.db,
                &Actor::cli("calendar import"),
                &days,
                &years,
                &source,
            )
            .await
            .map_err(|e| CliError(e.detail()))?;
            eprintln!("loaded {} days; years covered: {years:?}", days.len());
            Ok(())
        }
        Command::Token {
            role,
            org,
            sub,
            ttl,
        } => {
            let role = parse_role(&role)?;
            let state = prepare_state(settings)
                .await
                .map_err(|e| CliError(e.to_string()))?;
            let organization = clients::organization_by_code(&state.db, &org)
                .await
                .map_err(|e| CliError(e.message()))?;
            let scopes: Vec<String> = role
                .default_scopes()
                .iter()
                .map(|s| (*s).to_owned())
                .collect();
            clients::check_role_and_scopes(&organization, role, &scopes)
                .map_err(|e| CliError(e.detail()))?;
            let principal = Principal {
                client_id: sub.unwrap_or_else(|| format!("cli:{org}")),
                organization: organization.code,
                role,
                scopes,
            };
            let token = state.tokens.mint(&principal, ttl).map_err(CliError)?;
            println!("{token}");
            Ok(())
        }
        Command::Client { action } => {
            let state = prepare_state(settings)
                .await
                .map_err(|e| CliError(e.to_string()))?;
            match action {
                ClientAction::Create {
                    org,
                    role,
                    name,
                    scopes,
                } => {
                    let role = parse_role(&role)?;
                    let scopes = scopes.map(|s| s.split_whitespace().map(str::to_owned).collect());
                    let name = name.unwrap_or_else(|| format!("{org} {}", role.as_str()));
                    let created = clients::create(&state.db, &org, role, &name, scopes)
                        .await
                        .map_err(|e| CliError(e.detail()))?;
                    crate::audit::record(
                        &state.db,
                        &Actor::cli("client create"),
                        vec![crate::audit::AuditEntry::new("createClient", None).detail(
                            serde_json::json!({
                                "clientId": created.client_id,
                                "organization": created.organization,
                                "role": created.role.as_str(),
                            }),
                        )],
                    )
                    .await
                    .map_err(|e| CliError(e.detail()))?;
                    println!("client_id:     {}", created.client_id);
                    println!("client_secret: {}", created.secret);
                    println!("organization:  {}", created.organization);
                    println!("role:          {}", created.role.as_str());
                    println!("scopes:        {}", created.scopes.join(" "));
                    eprintln!("The secret is shown only now; store it safely.");
                    Ok(())
                }
                ClientAction::List => {
                    let rows = clients::list(&state.db)
                        .await
                        .map_err(|e| CliError(e.detail()))?;
                    for (client, org) in rows {
                        println!(
                            "{}\t{}\t{}\t{}\t{}",
                            client.client_id,
                            org.map(|o| o.code).unwrap_or_default(),
                            client.role,
                            if client.disabled_at.is_some() {
                                "disabled"
                            } else {
                                "active"
                            },
                            client.name
                        );
                    }
                    Ok(())
                }
                ClientAction::Disable { client_id } => {
                    clients::disable(&state.db, &client_id)
                        .await
                        .map_err(|e| CliError(e.detail()))?;
                    crate::audit::record(
                        &state.db,
                        &Actor::cli("client disable"),
                        vec![
                            crate::audit::AuditEntry::new("disableClient", None)
                                .detail(serde_json::json!({ "clientId": client_id })),
                        ],
                    )
                    .await
                    .map_err(|e| CliError(e.detail()))?;
                    eprintln!("client {client_id} disabled");
                    Ok(())
                }
            }
        }
    }
}
