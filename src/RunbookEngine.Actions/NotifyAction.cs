using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using RunbookEngine.Workflows;

namespace RunbookEngine.Actions;

/// <summary>
/// Posts a message to a chat incoming webhook: Slack's (<c>{"text": ...}</c>) or a Microsoft Teams workflow
/// webhook's (a message with an Adaptive Card attachment). Webhook URLs are credentials, so plans, results and
/// errors name only the URL's host; give the URL as a secret reference.
/// </summary>
public sealed class NotifyAction : IRunbookAction
{

    /// <inheritdoc/>
    public string Name => "notify";

    /// <inheritdoc/>
    public string Description => "Post a message to a Slack or Microsoft Teams incoming webhook.";

    /// <inheritdoc/>
    public SideEffect SideEffect => SideEffect.Mutating;

    /// <inheritdoc/>
    public IReadOnlyList<ActionParameter> Parameters { get; } =
    [
        new("url", ParameterType.String, true, "The incoming webhook URL; it is a credential: give it as a secret reference (secret://env/SLACK_WEBHOOK)."),
        new("text", ParameterType.String, true, "The message (Slack mrkdwn or Teams markdown)."),
        new("title", ParameterType.String, false, "A heading shown above the text."),
        new("format", ParameterType.String, false, "slack (default) or teams.", ["slack", "teams"]),
    ];

    /// <inheritdoc/>
    public IReadOnlyList<string> ResultFields { get; } = ["status", "format", "host"];

    /// <inheritdoc/>
    public Task<ActionPlan> PlanAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var format = FormatOf(request);
        var url = With.RequiredString(request.With, "url", Name);
        var where = Secrets.IsReference(url) ? url : HostOf(url);
        var text = With.RequiredString(request.With, "text", Name);
        return Task.FromResult(new ActionPlan(Name, "post", where, $"would post a {format} message to {where}: {Shorten(text)}", SideEffect.Mutating, With.Object(("title", With.String(request.With, "title")), ("text", text))));
    }

    /// <inheritdoc/>
    public async Task<JsonObject> ExecuteAsync(ActionRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var format = FormatOf(request);
        var url = With.RequiredString(request.With, "url", Name);
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new StepException("InvalidInput", "notify: 'url' is not an absolute http(s) URL", nonRetryable: true);
        }

        var text = With.RequiredString(request.With, "text", Name);
        var title = With.String(request.With, "title");
        var body = format == "teams" ? TeamsMessage(title, text) : new JsonObject { ["text"] = title is null ? text : $"*{title}*\n{text}" };
        var json = body.ToJsonString();
        HttpRequestMessage Message()
        {
            var content = new StringContent(json, Encoding.UTF8);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            return new HttpRequestMessage(HttpMethod.Post, uri) { Content = content };
        }

        HttpResponseMessage response;
        try
        {
            // A post is tried again within the attempt only when no connection was made (nothing was sent).
            response = await Transient.SendAsync(ActionHttp.Client, Message, isRead: false, TimeProvider.System, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex)
        {
            throw new StepException("NotifyFailed", $"posting to {uri.Host} failed: {ex.HttpRequestError}");
        }

        using (response)
        {
            var status = (int)response.StatusCode;
            if (status is < 200 or >= 300)
            {
                var answer = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);

                // 4xx other than 429 means the URL or the message is wrong: retrying cannot help.
                throw new StepException("NotifyFailed", $"{uri.Host} answered {status}: {Shorten(answer)}", nonRetryable: status is >= 400 and < 500 and not 429);
            }

            return With.Object(("status", status), ("format", format), ("host", uri.Host));
        }
    }

    /// <summary>The shape Teams workflow webhooks ("post to a channel when a webhook request is received") take.</summary>
    private static JsonObject TeamsMessage(string? title, string text)
    {
        var blocks = new JsonArray();
        if (title is not null)
        {
            blocks.Add(new JsonObject { ["type"] = "TextBlock", ["text"] = title, ["weight"] = "Bolder", ["size"] = "Medium", ["wrap"] = true });
        }

        blocks.Add(new JsonObject { ["type"] = "TextBlock", ["text"] = text, ["wrap"] = true });
        return new JsonObject
        {
            ["type"] = "message",
            ["attachments"] = new JsonArray(new JsonObject
            {
                ["contentType"] = "application/vnd.microsoft.card.adaptive",
                ["content"] = new JsonObject
                {
                    ["$schema"] = "http://adaptivecards.io/schemas/adaptive-card.json",
                    ["type"] = "AdaptiveCard",
                    ["version"] = "1.4",
                    ["body"] = blocks,
                },
            }),
        };
    }

    private static string FormatOf(ActionRequest request) => With.String(request.With, "format") ?? "slack";

    private static string HostOf(string url) => Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.Host : "(not a URL)";

    private static string Shorten(string text) => text.Length > 120 ? text[..120] + "..." : text;
}
