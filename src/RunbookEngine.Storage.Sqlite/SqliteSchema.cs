namespace RunbookEngine.Storage.Sqlite;

/// <summary>The schema, as ordered migrations; the store applies the missing ones under the write lock.</summary>
internal static class SqliteSchema
{
    public static readonly IReadOnlyList<(int Version, string Sql)> Migrations =
    [
        (1, """
            CREATE TABLE definitions (
                hash        TEXT PRIMARY KEY,
                workflow    TEXT NOT NULL,
                content     TEXT NOT NULL,
                created_at  INTEGER NOT NULL
            );
            CREATE TABLE runs (
                run_id              TEXT PRIMARY KEY,
                workflow            TEXT NOT NULL,
                definition_hash     TEXT NOT NULL REFERENCES definitions(hash),
                queue               TEXT NOT NULL,
                status              TEXT NOT NULL,
                idempotency_key     TEXT UNIQUE,
                input               TEXT,
                output              TEXT,
                error_kind          TEXT,
                error_message       TEXT,
                created_by          TEXT NOT NULL,
                created_at          INTEGER NOT NULL,
                updated_at          INTEGER NOT NULL,
                completed_at        INTEGER,
                available_at        INTEGER,
                lease_owner         TEXT,
                lease_expires_at    INTEGER,
                cancel_requested    INTEGER NOT NULL DEFAULT 0,
                cancel_requested_by TEXT,
                cancel_reason       TEXT,
                wake_count          INTEGER NOT NULL DEFAULT 0,
                timeline_seq        INTEGER NOT NULL DEFAULT 0,
                timeline_hash       TEXT NOT NULL
            );
            CREATE INDEX runs_claimable ON runs (queue, available_at) WHERE status IN ('ready', 'waiting');
            CREATE INDEX runs_leased ON runs (lease_expires_at) WHERE status = 'running';
            CREATE INDEX runs_created ON runs (created_at);
            CREATE INDEX runs_workflow_created ON runs (workflow, created_at);
            CREATE INDEX runs_status_created ON runs (status, created_at);
            CREATE TABLE steps (
                run_id           TEXT NOT NULL,
                seq              INTEGER NOT NULL,
                name             TEXT NOT NULL,
                kind             TEXT NOT NULL,
                status           TEXT NOT NULL,
                attempt          INTEGER NOT NULL,
                queue            TEXT,
                activity         TEXT,
                input            TEXT,
                output           TEXT,
                error_kind       TEXT,
                error_message    TEXT,
                options          TEXT,
                available_at     INTEGER,
                started_at       INTEGER,
                completed_at     INTEGER,
                lease_owner      TEXT,
                lease_expires_at INTEGER,
                PRIMARY KEY (run_id, seq)
            ) WITHOUT ROWID;
            CREATE INDEX steps_queued ON steps (queue, available_at) WHERE kind = 'activity' AND status = 'queued';
            CREATE INDEX steps_leased ON steps (lease_expires_at) WHERE kind = 'activity' AND status = 'running';
            CREATE TABLE signals (
                id           INTEGER PRIMARY KEY AUTOINCREMENT,
                run_id       TEXT NOT NULL,
                name         TEXT NOT NULL,
                payload      TEXT,
                sender       TEXT NOT NULL,
                received_at  INTEGER NOT NULL,
                consumed_seq INTEGER
            );
            CREATE INDEX signals_pending ON signals (run_id, id) WHERE consumed_seq IS NULL;
            CREATE TABLE timeline (
                run_id TEXT NOT NULL,
                seq    INTEGER NOT NULL,
                at     INTEGER NOT NULL,
                actor  TEXT NOT NULL,
                kind   TEXT NOT NULL,
                data   TEXT,
                hash   TEXT NOT NULL,
                PRIMARY KEY (run_id, seq)
            ) WITHOUT ROWID;
            CREATE TRIGGER timeline_append_only_update BEFORE UPDATE ON timeline
                BEGIN SELECT RAISE(ABORT, 'the timeline is append-only'); END;
            CREATE TRIGGER timeline_append_only_delete BEFORE DELETE ON timeline
                BEGIN SELECT RAISE(ABORT, 'the timeline is append-only'); END;
            """),
        (2, """
            -- Guards: admission decided in the write transaction that creates the run. guard_seen marks the
            -- ended runs the policy has already folded into the key's saved state.
            ALTER TABLE runs ADD COLUMN guard_key TEXT;
            ALTER TABLE runs ADD COLUMN guard_seen INTEGER NOT NULL DEFAULT 0;
            CREATE INDEX runs_guard_unseen ON runs (guard_key, created_at) WHERE guard_key IS NOT NULL AND guard_seen = 0;
            CREATE TABLE guards (
                key         TEXT PRIMARY KEY,
                state       TEXT,
                updated_at  INTEGER NOT NULL
            );
            CREATE TABLE guard_resets (
                id      INTEGER PRIMARY KEY AUTOINCREMENT,
                key     TEXT NOT NULL,
                at      INTEGER NOT NULL,
                actor   TEXT NOT NULL,
                reason  TEXT NOT NULL
            );
            CREATE INDEX guard_resets_key ON guard_resets (key, id);
            CREATE TRIGGER guard_resets_append_only_update BEFORE UPDATE ON guard_resets
                BEGIN SELECT RAISE(ABORT, 'guard resets are append-only'); END;
            CREATE TRIGGER guard_resets_append_only_delete BEFORE DELETE ON guard_resets
                BEGIN SELECT RAISE(ABORT, 'guard resets are append-only'); END;
            """),
        (3, """
            -- The journal: what was received for no run (e.g. alerts no trigger matched), append-only.
            CREATE TABLE journal (
                id       INTEGER PRIMARY KEY AUTOINCREMENT,
                at       INTEGER NOT NULL,
                source   TEXT NOT NULL,
                kind     TEXT NOT NULL,
                subject  TEXT NOT NULL,
                data     TEXT
            );
            CREATE INDEX journal_kind ON journal (kind, id);
            CREATE TRIGGER journal_append_only_update BEFORE UPDATE ON journal
                BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
            CREATE TRIGGER journal_append_only_delete BEFORE DELETE ON journal
                BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
            """),
        (4, """
            -- The W3C traceparent of a run's trace: every worker that executes the run continues it.
            ALTER TABLE runs ADD COLUMN trace_parent TEXT;
            """),
        (5, """
            -- Game-day drill reports, append-only like the journal.
            CREATE TABLE drill_reports (
                id       INTEGER PRIMARY KEY AUTOINCREMENT,
                at       INTEGER NOT NULL,
                drill    TEXT NOT NULL,
                runbook  TEXT NOT NULL,
                passed   INTEGER NOT NULL,
                actor    TEXT NOT NULL,
                mode     TEXT NOT NULL,
                report   TEXT NOT NULL
            );
            CREATE INDEX drill_reports_drill ON drill_reports (drill, id);
            CREATE TRIGGER drill_reports_append_only_update BEFORE UPDATE ON drill_reports
                BEGIN SELECT RAISE(ABORT, 'drill reports are append-only'); END;
            CREATE TRIGGER drill_reports_append_only_delete BEFORE DELETE ON drill_reports
                BEGIN SELECT RAISE(ABORT, 'drill reports are append-only'); END;
            """),
        (6, """
            -- Retention (runbook prune). A run is removed whole, and its timeline only once its tombstone (what it
            -- was, where its hash chain ended, who pruned it when) is written; journal entries only below a recorded
            -- prune. Both records are append-only, so removing data always leaves a trace of it.
            CREATE TABLE pruned_runs (
                run_id        TEXT PRIMARY KEY,
                workflow      TEXT NOT NULL,
                status        TEXT NOT NULL,
                created_at    INTEGER NOT NULL,
                completed_at  INTEGER NOT NULL,
                timeline_seq  INTEGER NOT NULL,
                timeline_hash TEXT NOT NULL,
                pruned_at     INTEGER NOT NULL,
                pruned_by     TEXT NOT NULL
            ) WITHOUT ROWID;
            CREATE TRIGGER pruned_runs_append_only_update BEFORE UPDATE ON pruned_runs
                BEGIN SELECT RAISE(ABORT, 'pruned runs are append-only'); END;
            CREATE TRIGGER pruned_runs_append_only_delete BEFORE DELETE ON pruned_runs
                BEGIN SELECT RAISE(ABORT, 'pruned runs are append-only'); END;
            DROP TRIGGER timeline_append_only_delete;
            CREATE TRIGGER timeline_append_only_delete BEFORE DELETE ON timeline
                WHEN NOT EXISTS (SELECT 1 FROM pruned_runs WHERE run_id = OLD.run_id)
                BEGIN SELECT RAISE(ABORT, 'the timeline is append-only'); END;
            CREATE TABLE journal_prunes (
                id          INTEGER PRIMARY KEY AUTOINCREMENT,
                at          INTEGER NOT NULL,
                actor       TEXT NOT NULL,
                before      INTEGER NOT NULL,
                through_id  INTEGER NOT NULL,
                count       INTEGER NOT NULL
            );
            CREATE INDEX journal_prunes_through ON journal_prunes (through_id);
            CREATE TRIGGER journal_prunes_append_only_update BEFORE UPDATE ON journal_prunes
                BEGIN SELECT RAISE(ABORT, 'journal prunes are append-only'); END;
            CREATE TRIGGER journal_prunes_append_only_delete BEFORE DELETE ON journal_prunes
                BEGIN SELECT RAISE(ABORT, 'journal prunes are append-only'); END;
            DROP TRIGGER journal_append_only_delete;
            CREATE TRIGGER journal_append_only_delete BEFORE DELETE ON journal
                WHEN OLD.id > (SELECT COALESCE(MAX(through_id), 0) FROM journal_prunes)
                BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END;
            CREATE INDEX runs_ended ON runs (completed_at, run_id) WHERE completed_at IS NOT NULL;
            """),

        // 7: runs listed by target (the console's and `runbook runs --target`), newest first, paged by cursor.
        (7, """
            CREATE INDEX runs_target ON runs (guard_key, created_at, run_id) WHERE guard_key IS NOT NULL;
            """),

        // 8: the web console's sessions, so a restart keeps them. Only hashes: the id is the SHA-256 of the cookie,
        // the token is its SHA-256 as in the tokens file.
        (8, """
            CREATE TABLE console_sessions (
                id          TEXT PRIMARY KEY,
                token_hash  TEXT NOT NULL,
                opened_at   INTEGER NOT NULL,
                expires_at  INTEGER NOT NULL,
                last_seen   INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX console_sessions_token ON console_sessions (token_hash, opened_at);
            """),

        // 9: the answers of a live drill that marks only some steps live, while it runs (runs copy them into
        // their input when they start, so a registration that changes or ends never changes a started run).
        (9, """
            CREATE TABLE live_drill_scripts (
                drill          TEXT PRIMARY KEY,
                script         TEXT NOT NULL,
                actor          TEXT NOT NULL,
                registered_at  INTEGER NOT NULL,
                expires_at     INTEGER NOT NULL
            );
            """),

        // 10: the guard ledger: runs another engine (Temporal) runs, admitted by a guard here and counted with the
        // kernel's runs of their key until that engine says they ended.
        (10, """
            CREATE TABLE guard_runs (
                run_id        TEXT PRIMARY KEY,
                guard_key     TEXT NOT NULL,
                status        TEXT NOT NULL,
                created_at    INTEGER NOT NULL,
                completed_at  INTEGER,
                error_kind    TEXT,
                failed_steps  INTEGER NOT NULL DEFAULT 0,
                guard_seen    INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX guard_runs_key ON guard_runs (guard_key, status) WHERE guard_seen = 0;
            """),
    ];

    public static int LatestVersion => Migrations[^1].Version;
}
