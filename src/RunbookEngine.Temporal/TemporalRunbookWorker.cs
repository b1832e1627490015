using Microsoft.Extensions.Logging;
using RunbookEngine.Actions;
using RunbookEngine.Runbooks;
using RunbookEngine.Workflows;
using Temporalio.Client;
using Temporalio.Worker;

namespace RunbookEngine.Temporal;

/// <summary>
/// A Temporal worker for runbooks: the <c>runbook</c> workflow and every action on the workflow task queue, and
/// the actions alone on each other queue it serves (steps with <c>queue:</c>). Until cancelled; then Temporal's
/// graceful shutdown lets running actions finish for up to <see cref="WorkerSettings.ShutdownTimeout"/>.
/// </summary>
public static class TemporalRunbookWorker
{
    /// <summary>Runs the worker until <paramref name="cancellationToken"/> is cancelled.</summary>
    /// <param name="client">A connected client.</param>
    /// <param name="actions">The actions this worker can run.</param>
    /// <param name="settings">Queues and limits.</param>
    /// <param name="loggers">Loggers.</param>
    /// <param name="cancellationToken">Stops the worker.</param>
    /// <returns>A task that ends when the worker has stopped.</returns>
    public static async Task RunAsync(ITemporalClient client, ActionCatalog actions, WorkerSettings settings, ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(actions);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(loggers);
        var logger = loggers.CreateLogger("runbook.temporal.worker");
        var registry = new ActivityRegistry().AddRunbookActions(actions, logger);
        var activities = RunbookTemporalActivities.Create(registry, logger);
        var workflow = RunbookTemporalWorkflow.Definition(new RunbookResolver(actions));
        var workers = new List<TemporalWorker>();
        try
        {
            foreach (var queue in settings.Queues.Prepend(settings.WorkflowTaskQueue).Distinct(StringComparer.Ordinal))
            {
                var options = new TemporalWorkerOptions(queue)
                {
                    MaxConcurrentActivities = settings.Concurrency,
                    MaxConcurrentLocalActivities = settings.Concurrency,
                    MaxConcurrentWorkflowTasks = Math.Max(2, settings.Concurrency),
                    GracefulShutdownTimeout = settings.ShutdownTimeout,
                    LoggerFactory = loggers,
                    Identity = settings.Identity,
                };
                foreach (var activity in activities)
                {
                    options.AddActivity(activity);
                }

                if (queue == settings.WorkflowTaskQueue)
                {
                    options.AddWorkflow(workflow);
                }

                workers.Add(new TemporalWorker(client, options));
            }

            var running = workers.Select(w => w.ExecuteAsync(cancellationToken)).ToList();
            try
            {
                await Task.WhenAll(running).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Stopped as asked.
            }
        }
        finally
        {
            foreach (var worker in workers)
            {
                worker.Dispose();
            }
        }
    }

    /// <summary>What a runbook Temporal worker serves.</summary>
    public sealed record WorkerSettings
    {
        /// <summary>Gets the task queue of runbook workflows.</summary>
        public string WorkflowTaskQueue { get; init; } = TemporalEngineOptions.DefaultTaskQueue;

        /// <summary>Gets further task queues whose actions this worker runs.</summary>
        public IReadOnlyList<string> Queues { get; init; } = [];

        /// <summary>Gets how many actions (and workflow tasks) at once per queue.</summary>
        public int Concurrency { get; init; } = 8;

        /// <summary>Gets how long running actions may finish when the worker stops.</summary>
        public TimeSpan ShutdownTimeout { get; init; } = TimeSpan.FromSeconds(30);

        /// <summary>Gets the worker's identity in Temporal (null: the SDK's pid@host).</summary>
        public string? Identity { get; init; }
    }
}
