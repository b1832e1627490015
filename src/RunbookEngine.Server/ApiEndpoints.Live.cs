using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using RunbookEngine.Runbooks.Service;
using Microsoft.AspNetCore.Builder;
using RunbookEngine.Workflows;

namespace RunbookEngine.Server;

/// <summary>What the web console needs beyond the CLI's API: pending approvals for the caller, and live timelines.</summary>
internal static partial class ApiEndpoints
{
    private static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);

    private static void MapLive(RouteGroupBuilder api, ServerContext context)
    {
        var service = context.Service;
        Get(api, "/approvals", ApiRole.Viewer, async (http, caller, ct) =>
        {
            var limit = 100;
            if (http.Request.Query["limit"].ToString() is { Length: > 0 } l && !int.TryParse(l, out limit))
            {
                throw new RunbookServiceException(ServiceErrorKind.Invalid, $"limit '{l}' is not a number");
            }

            var approvals = await service.ListPendingApprovalsAsync(caller, limit, ct).ConfigureAwait(false);
            return approvals.Select(a => ForRole(http, a)).ToList();
        });
        Get(api, "/runs/{id}/approval", ApiRole.Viewer, async (http, caller, ct) =>
        {
            var approval = await service.GetPendingApprovalAsync(Id(http), caller, ct).ConfigureAwait(false);
            return new Dictionary<string, ApprovalView?> { ["approval"] = approval is null ? null : ForRole(http, approval) };
        });
        api.MapGet("/runs/{id}/events", (HttpContext http) => EventsAsync(http, context));
    }

    /// <summary>The refusal the API gives this token: its role first, then the gate's rules.</summary>
    private static ApprovalView ForRole(HttpContext http, ApprovalView approval)
    {
        var token = (ApiToken)http.Items[TokenKey]!;
        return token.Allows(ApiRole.Approver)
            ? approval
            : approval with { Refusal = $"token '{token.Name}' has role {token.Role.ToString().ToLowerInvariant()}; this needs approver or admin" };
    }

    /// <summary>
    /// A run's timeline as server-sent events: <c>event</c> (one timeline event, its sequence number as the SSE id,
    /// so a reconnecting browser resumes after the last one it had), <c>run</c> (the run, whenever its status
    /// changes), <c>unavailable</c> (the store did not answer; it is asked again), and <c>end</c> once the run has
    /// ended and every event was sent.
    /// </summary>
    private static async Task EventsAsync(HttpContext http, ServerContext context)
    {
        await AuthorizeAsync(http, context, ApiRole.Viewer).ConfigureAwait(false);
        var ct = http.RequestAborted;
        var service = context.Service;
        var id = Id(http);
        long after = 0;
        var resume = http.Request.Headers["Last-Event-ID"].ToString() is { Length: > 0 } last ? last : http.Request.Query["after"].ToString();
        if (resume.Length > 0 && (!long.TryParse(resume, out after) || after < 0))
        {
            throw new RunbookServiceException(ServiceErrorKind.Invalid, $"after '{resume}' is not a sequence number");
        }

        var run = await service.GetRunAsync(id, ct).ConfigureAwait(false); // an unknown run is a 404 before the stream opens
        http.Response.ContentType = "text/event-stream";
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers["X-Accel-Buffering"] = "no";
        var sentAt = context.Time.GetUtcNow();
        string? status = null;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var sent = false;
                try
                {
                    // The status is read before the events: once it says ended, the events read after it are the last.
                    run = await service.GetRunAsync(id, ct).ConfigureAwait(false);
                    var timeline = await service.GetTimelineAsync(id, after, ct).ConfigureAwait(false);
                    foreach (var e in timeline.Events)
                    {
                        await WriteEventAsync(http, "event", JsonSerializer.Serialize(e, Json), e.Seq.ToString(System.Globalization.CultureInfo.InvariantCulture), ct).ConfigureAwait(false);
                        after = e.Seq;
                        sent = true;
                    }

                    if (run.Status != status)
                    {
                        status = run.Status;
                        await WriteEventAsync(http, "run", JsonSerializer.Serialize(run, Json), null, ct).ConfigureAwait(false);
                        sent = true;
                    }

                    if (run.IsTerminal)
                    {
                        await WriteEventAsync(http, "end", "{}", null, ct).ConfigureAwait(false);
                        await http.Response.Body.FlushAsync(ct).ConfigureAwait(false);
                        return;
                    }
                }
                catch (WorkflowStoreException ex)
                {
                    await WriteEventAsync(http, "unavailable", JsonSerializer.Serialize(new { message = ex.Message }, Json), null, ct).ConfigureAwait(false);
                    sent = true;
                }

                var now = context.Time.GetUtcNow();
                if (sent)
                {
                    sentAt = now;
                }
                else if (now - sentAt >= KeepAlive)
                {
                    await http.Response.WriteAsync(": keep-alive\n\n", ct).ConfigureAwait(false);
                    sentAt = now;
                }

                await http.Response.Body.FlushAsync(ct).ConfigureAwait(false);
                await Task.Delay(context.Options.EventPollInterval, context.Time, ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The page closed.
        }
    }

    private static Task WriteEventAsync(HttpContext http, string name, string json, string? id, CancellationToken ct)
    {
        var text = new StringBuilder();
        if (id is not null)
        {
            text.Append("id: ").Append(id).Append('\n');
        }

        // JSON from the serializer has no raw line breaks, so the data is one line.
        text.Append("event: ").Append(name).Append("\ndata: ").Append(json).Append("\n\n");
        return http.Response.WriteAsync(text.ToString(), ct);
    }
}
