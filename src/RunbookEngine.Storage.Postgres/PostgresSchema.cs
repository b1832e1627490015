namespace RunbookEngine.Storage.Postgres;

/// <summary>
/// The schema, as ordered migrations. They run inside the engine's own PostgreSQL schema (the connection's
/// search_path), under a transaction-scoped advisory lock so that processes starting at once apply each
/// migration exactly once.
/// </summary>
internal static class PostgresSchema
{
    public static readonly IReadOnlyList<(int Version, string Sql)> Migrations =
    [
        (1, """
            CREATE TABLE definitions (
                hash        text PRIMARY KEY,
                workflow    text NOT NULL,
                content     text NOT NULL,
                created_at  timestamptz NOT NULL
            );
            -- Inputs and outputs above the inline limit, by SHA-256 of their content.
            CREATE TABLE payloads (
                hash     text PRIMARY KEY,
                content  text NOT NULL
            );
            CREATE TABLE runs (
                run_id              text PRIMARY KEY,
                workflow            text NOT NULL,
                definition_hash     text NOT NULL REFERENCES definitions (hash),
                queue               text NOT NULL,
                status              text NOT NULL,
                idempotency_key     text UNIQUE,
                input               text,
                input_ref           text REFERENCES payloads (hash),
                output              text,
                output_ref          text REFERENCES payloads (hash),
                error_kind          text,
                error_message       text,
                created_by          text NOT NULL,
                created_at          timestamptz NOT NULL,
                updated_at          timestamptz NOT NULL,
                completed_at        timestamptz,
                available_at        timestamptz,
                lease_owner         text,
                lease_expires_at    timestamptz,
                cancel_requested    boolean NOT NULL DEFAULT false,
                cancel_requested_by text,
                cancel_reason       text,
                wake_count          bigint NOT NULL DEFAULT 0,
                timeline_seq        bigint NOT NULL DEFAULT 0,
                timeline_hash       text NOT NULL
            );
            CREATE INDEX runs_claimable ON runs (queue, available_at) WHERE status IN ('ready', 'waiting');
            CREATE INDEX runs_leased ON runs (queue, lease_expires_at) WHERE status = 'running';
            CREATE INDEX runs_created ON runs (created_at);
            CREATE INDEX runs_workflow_created ON runs (workflow, created_at);
            CREATE INDEX runs_status_created ON runs (status, created_at);
            CREATE TABLE steps (
                run_id           text NOT NULL REFERENCES runs (run_id),
                seq              integer NOT NULL,
                name             text NOT NULL,
                kind             text NOT NULL,
                status           text NOT NULL,
                attempt          integer NOT NULL,
                queue            text,
                activity         text,
                input            text,
                input_ref        text REFERENCES payloads (hash),
                output           text,
                output_ref       text REFERENCES payloads (hash),
                error_kind       text,
                error_message    text,
                options          text,
                available_at     timestamptz,
                started_at       timestamptz,
                completed_at     timestamptz,
                lease_owner      text,
                lease_expires_at timestamptz,
                PRIMARY KEY (run_id, seq)
            );
            CREATE INDEX steps_queued ON steps (queue, available_at) WHERE kind = 'activity' AND status = 'queued';
            CREATE INDEX steps_leased ON steps (queue, lease_expires_at) WHERE kind = 'activity' AND status = 'running';
            CREATE TABLE signals (
                id           bigserial PRIMARY KEY,
                run_id       text NOT NULL REFERENCES runs (run_id),
                name         text NOT NULL,
                payload      text,
                sender       text NOT NULL,
                received_at  timestamptz NOT NULL,
                consumed_seq integer
            );
            CREATE INDEX signals_pending ON signals (run_id, id) WHERE consumed_seq IS NULL;
            CREATE TABLE timeline (
                run_id text NOT NULL REFERENCES runs (run_id),
                seq    bigint NOT NULL,
                at     timestamptz NOT NULL,
                actor  text NOT NULL,
                kind   text NOT NULL,
                data   text,
                hash   text NOT NULL,
                PRIMARY KEY (run_id, seq)
            );
            CREATE FUNCTION timeline_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the timeline is append-only' USING ERRCODE = 'RB001';
            END $$;
            CREATE TRIGGER timeline_append_only BEFORE UPDATE OR DELETE ON timeline
                FOR EACH ROW EXECUTE FUNCTION timeline_append_only();
            CREATE TRIGGER timeline_append_only_truncate BEFORE TRUNCATE ON timeline
                FOR EACH STATEMENT EXECUTE FUNCTION timeline_append_only();
            """),
        (2, """
            -- Guards: admission decided in the transaction that creates the run, serialized per key by a row
            -- lock on guards. guard_seen marks the ended runs the policy has already folded into the saved state.
            ALTER TABLE runs ADD COLUMN guard_key text;
            ALTER TABLE runs ADD COLUMN guard_seen boolean NOT NULL DEFAULT false;
            CREATE INDEX runs_guard_unseen ON runs (guard_key, created_at) WHERE guard_key IS NOT NULL AND NOT guard_seen;
            CREATE TABLE guards (
                key         text PRIMARY KEY,
                state       text,
                updated_at  timestamptz NOT NULL
            );
            CREATE TABLE guard_resets (
                id      bigserial PRIMARY KEY,
                key     text NOT NULL,
                at      timestamptz NOT NULL,
                actor   text NOT NULL,
                reason  text NOT NULL
            );
            CREATE INDEX guard_resets_key ON guard_resets (key, id);
            CREATE FUNCTION guard_resets_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'guard resets are append-only' USING ERRCODE = 'RB001';
            END $$;
            CREATE TRIGGER guard_resets_append_only BEFORE UPDATE OR DELETE ON guard_resets
                FOR EACH ROW EXECUTE FUNCTION guard_resets_append_only();
            """),
        (3, """
            -- The journal: what was received for no run (e.g. alerts no trigger matched), append-only.
            CREATE TABLE journal (
                id       bigserial PRIMARY KEY,
                at       timestamptz NOT NULL,
                source   text NOT NULL,
                kind     text NOT NULL,
                subject  text NOT NULL,
                data     text
            );
            CREATE INDEX journal_kind ON journal (kind, id);
            CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the journal is append-only' USING ERRCODE = 'RB001';
            END $$;
            CREATE TRIGGER journal_append_only BEFORE UPDATE OR DELETE ON journal
                FOR EACH ROW EXECUTE FUNCTION journal_append_only();
            """),
        (4, """
            -- A run's row changes with every step (its timeline head). Room on each page keeps those updates HOT
            -- (no new index entries), and so does renewing the lease (an indexed column) only once half of it is gone.
            ALTER TABLE runs SET (fillfactor = 70);
            -- The checks of a group of worker commits written as multi-row statements (every run still leased to
            -- its writer with the head that writer last wrote, no step position taken, no signal consumed), raising
            -- RB002 in the statement itself so that nothing of the group is committed and the caller applies its
            -- commits one by one instead.
            CREATE FUNCTION expect_rows(p_actual bigint, p_expected bigint) RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                IF p_actual <> p_expected THEN
                    RAISE EXCEPTION 'a run of the group changed since its writer last wrote it' USING ERRCODE = 'RB002';
                END IF;
            END $$;
            """),
        (5, """
            -- Steps and timeline events are written only in a transaction that has first updated (and so locked)
            -- their run's row, fenced on its lease and head, or that created it; their payload rows are written
            -- before them in the same transaction; runs and payloads are never deleted. A foreign-key check per
            -- row repeated that lookup for every step and event: about a tenth of PostgreSQL's work per step at 64
            -- concurrent runs (docs/benchmarks.md). Signals, written by clients, keep theirs.
            ALTER TABLE steps DROP CONSTRAINT steps_run_id_fkey;
            ALTER TABLE steps DROP CONSTRAINT steps_input_ref_fkey;
            ALTER TABLE steps DROP CONSTRAINT steps_output_ref_fkey;
            ALTER TABLE timeline DROP CONSTRAINT timeline_run_id_fkey;
            """),
        (6, """
            -- The W3C traceparent of a run's trace: every worker that executes the run continues it.
            ALTER TABLE runs ADD COLUMN trace_parent text;
            """),
        (7, """
            -- Game-day drill reports, append-only like the journal.
            CREATE TABLE drill_reports (
                id       bigserial PRIMARY KEY,
                at       timestamptz NOT NULL,
                drill    text NOT NULL,
                runbook  text NOT NULL,
                passed   boolean NOT NULL,
                actor    text NOT NULL,
                mode     text NOT NULL,
                report   text NOT NULL
            );
            CREATE INDEX drill_reports_drill ON drill_reports (drill, id);
            CREATE FUNCTION drill_reports_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'drill reports are append-only' USING ERRCODE = 'RB001';
            END $$;
            CREATE TRIGGER drill_reports_append_only BEFORE UPDATE OR DELETE ON drill_reports
                FOR EACH ROW EXECUTE FUNCTION drill_reports_append_only();
            """),
        (8, """
            -- Retention (runbook prune). A run is removed whole, and its timeline only once its tombstone (what it
            -- was, where its hash chain ended, who pruned it when) is written; journal entries only below a recorded
            -- prune. Both records are append-only, so removing data always leaves a trace of it. A pruned run's id
            -- is never used again.
            CREATE TABLE pruned_runs (
                run_id        text PRIMARY KEY,
                workflow      text NOT NULL,
                status        text NOT NULL,
                created_at    timestamptz NOT NULL,
                completed_at  timestamptz NOT NULL,
                timeline_seq  bigint NOT NULL,
                timeline_hash text NOT NULL,
                pruned_at     timestamptz NOT NULL,
                pruned_by     text NOT NULL
            );
            CREATE FUNCTION pruned_runs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'pruned runs are append-only' USING ERRCODE = 'RB001';
            END $$;
            CREATE TRIGGER pruned_runs_append_only BEFORE UPDATE OR DELETE ON pruned_runs
                FOR EACH ROW EXECUTE FUNCTION pruned_runs_append_only();
            CREATE TRIGGER pruned_runs_append_only_truncate BEFORE TRUNCATE ON pruned_runs
                FOR EACH STATEMENT EXECUTE FUNCTION pruned_runs_append_only();
            -- Deletes are checked once per statement over its transition table (a row trigger cost a plpgsql call
            -- per event: a prune of a million events took a minute, docs/benchmarks.md).
            DROP TRIGGER timeline_append_only ON timeline;
            CREATE TRIGGER timeline_append_only BEFORE UPDATE ON timeline
                FOR EACH ROW EXECUTE FUNCTION timeline_append_only();
            CREATE FUNCTION timeline_delete_pruned_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM gone g WHERE NOT EXISTS (SELECT 1 FROM pruned_runs p WHERE p.run_id = g.run_id)) THEN
                    RAISE EXCEPTION 'the timeline is append-only' USING ERRCODE = 'RB001';
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER timeline_delete_pruned_only AFTER DELETE ON timeline
                REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION timeline_delete_pruned_only();
            CREATE FUNCTION runs_not_pruned() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM pruned_runs WHERE run_id = NEW.run_id) THEN
                    RAISE EXCEPTION 'run % was pruned; a run id is never used twice: start it with a new id', NEW.run_id USING ERRCODE = 'RB003';
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER runs_not_pruned BEFORE INSERT ON runs
                FOR EACH ROW EXECUTE FUNCTION runs_not_pruned();
            CREATE TABLE journal_prunes (
                id          bigserial PRIMARY KEY,
                at          timestamptz NOT NULL,
                actor       text NOT NULL,
                before      timestamptz NOT NULL,
                through_id  bigint NOT NULL,
                count       integer NOT NULL
            );
            CREATE INDEX journal_prunes_through ON journal_prunes (through_id);
            CREATE FUNCTION journal_prunes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'journal prunes are append-only' USING ERRCODE = 'RB001';
            END $$;
            CREATE TRIGGER journal_prunes_append_only BEFORE UPDATE OR DELETE ON journal_prunes
                FOR EACH ROW EXECUTE FUNCTION journal_prunes_append_only();
            DROP TRIGGER journal_append_only ON journal;
            CREATE TRIGGER journal_append_only BEFORE UPDATE ON journal
                FOR EACH ROW EXECUTE FUNCTION journal_append_only();
            CREATE FUNCTION journal_delete_pruned_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM gone WHERE id > (SELECT COALESCE(MAX(through_id), 0) FROM journal_prunes)) THEN
                    RAISE EXCEPTION 'the journal is append-only' USING ERRCODE = 'RB001';
                END IF;
                RETURN NULL;
            END $$;
            CREATE TRIGGER journal_delete_pruned_only AFTER DELETE ON journal
                REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION journal_delete_pruned_only();
            -- Finding the runs to prune, and whether a payload is still referenced once they are gone.
            CREATE INDEX runs_ended ON runs (completed_at, run_id) WHERE completed_at IS NOT NULL;
            CREATE INDEX runs_input_ref ON runs (input_ref) WHERE input_ref IS NOT NULL;
            CREATE INDEX runs_output_ref ON runs (output_ref) WHERE output_ref IS NOT NULL;
            CREATE INDEX steps_input_ref ON steps (input_ref) WHERE input_ref IS NOT NULL;
            CREATE INDEX steps_output_ref ON steps (output_ref) WHERE output_ref IS NOT NULL;
            """),

        // 9: runs listed by target (the console's and `runbook runs --target`), newest first, paged by cursor.
        (9, """
            CREATE INDEX runs_target ON runs (guard_key, created_at, run_id) WHERE guard_key IS NOT NULL;
            """),

        // 10: the web console's sessions, shared by every server on the store and kept over restarts. Only hashes:
        // the id is the SHA-256 of the cookie, the token is its SHA-256 as in the tokens file.
        (10, """
            CREATE TABLE console_sessions (
                id          text PRIMARY KEY,
                token_hash  text NOT NULL,
                opened_at   timestamptz NOT NULL,
                expires_at  timestamptz NOT NULL,
                last_seen   timestamptz NOT NULL
            );
            CREATE INDEX console_sessions_token ON console_sessions (token_hash, opened_at);
            """),

        // 11: the answers of a live drill that marks only some steps live, while it runs (runs copy them into
        // their input when they start, so a registration that changes or ends never changes a started run).
        (11, """
            CREATE TABLE live_drill_scripts (
                drill          text PRIMARY KEY,
                script         text NOT NULL,
                actor          text NOT NULL,
                registered_at  timestamptz NOT NULL,
                expires_at     timestamptz NOT NULL
            );
            """),

        // 12: the guard ledger: runs another engine (Temporal) runs, admitted by a guard here and counted with the
        // kernel's runs of their key until that engine says they ended.
        (12, """
            CREATE TABLE guard_runs (
                run_id        text PRIMARY KEY,
                guard_key     text NOT NULL,
                status        text NOT NULL,
                created_at    timestamptz NOT NULL,
                completed_at  timestamptz,
                error_kind    text,
                failed_steps  integer NOT NULL DEFAULT 0,
                guard_seen    boolean NOT NULL DEFAULT false
            );
            CREATE INDEX guard_runs_key ON guard_runs (guard_key, status) WHERE NOT guard_seen;
            """),

        // 13: the inline step a run is executing, held on the run's row (updated by every commit anyway) rather
        // than in a steps row inserted when it starts and rewritten when it ends (PostgresWorkflowStore.RunningStep.cs).
        (13, """
            ALTER TABLE runs ADD COLUMN running_step text;
            """),
    ];

    public static int LatestVersion => Migrations[^1].Version;
}
