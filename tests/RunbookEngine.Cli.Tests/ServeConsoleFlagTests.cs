using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace RunbookEngine.Cli.Tests;

/// <summary><c>runbook serve --no-console</c>: no pages and no cookie sign-in, the API with header tokens as before.</summary>
public sealed class ServeConsoleFlagTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);
    private readonly CliFixture cli = new();

    public void Dispose() => cli.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task The_console_and_its_sign_in_are_served_unless_no_console_is_given(bool noConsole)
    {
        var tokens = Path.Combine(cli.Directory, "tokens.yaml");
        var (created, made, err) = await cli.RunProcessAsync("ops", string.Empty, "token", "create", "ada", "--role", "viewer", "--tokens", tokens);
        Assert.True(created == 0, err);
        var (server, url, banner) = await cli.ServeAsync([], ["--tokens", tokens, .. noConsole ? new[] { "--no-console" } : []]);
        using var _ = server;
        try
        {
            Assert.Contains(noConsole ? "; no web console; " : "; web console at /; ", banner, StringComparison.Ordinal);

            using var http = new HttpClient();
            using var page = await http.GetAsync(url + "/runs");
            using var signIn = await http.PostAsync(url + "/api/session", new StringContent($$"""{"token":"{{made.Trim()}}"}""", Encoding.UTF8, "application/json"));
            using var api = new HttpRequestMessage(HttpMethod.Get, url + "/api/runs");
            api.Headers.Authorization = new AuthenticationHeaderValue("Bearer", made.Trim());
            using var runs = await http.SendAsync(api);

            Assert.Equal(noConsole ? HttpStatusCode.NotFound : HttpStatusCode.OK, page.StatusCode);
            Assert.Equal(noConsole ? HttpStatusCode.NotFound : HttpStatusCode.Created, signIn.StatusCode);
            Assert.Equal(noConsole, !signIn.Headers.Contains("Set-Cookie"));
            Assert.Equal(HttpStatusCode.OK, runs.StatusCode); // the API is the same either way
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync().WaitAsync(Bound);
        }
    }
}
