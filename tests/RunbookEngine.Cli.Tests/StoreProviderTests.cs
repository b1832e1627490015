using RunbookEngine.Storage.Postgres;
using RunbookEngine.Storage.Sqlite;
using RunbookEngine.Workflows.Storage;

namespace RunbookEngine.Cli.Tests;

/// <summary>The one place the CLI learns which stores exist: each location goes to the provider that takes it.</summary>
public sealed class StoreProviderTests
{
    [Theory]
    [InlineData("postgres://rb:secret@127.0.0.1:5432/runbook", "postgres")]
    [InlineData("postgresql://127.0.0.1/runbook", "postgres")]
    [InlineData("Host=127.0.0.1;Database=runbook", "postgres")]
    [InlineData(".runbook/runbook.db", "sqlite")]
    [InlineData("/var/lib/runbook/store.db", "sqlite")]
    public void A_location_goes_to_the_provider_that_takes_it(string location, string provider) =>
        Assert.Equal(provider, CliSession.StoreProviders.For(location).Name);

    [Fact]
    public void Providers_are_asked_in_order_with_the_fallback_last_and_a_location_none_takes_is_refused_naming_them()
    {
        Assert.Equal(["postgres", "sqlite"], CliSession.StoreProviders.All.Select(p => p.Name));
        var none = new WorkflowStoreProviders().Add(new PostgresStoreProvider());
        var ex = Assert.Throws<ArgumentException>(() => none.For("store.db"));
        Assert.Equal("no store provider takes 'store.db': postgres: a connection string (Host=...;Database=...) or a postgres:// URL", ex.Message);
        Assert.Equal("sqlite", none.Fallback(new SqliteStoreProvider()).For("store.db").Name);
        Assert.Throws<ArgumentException>(() => none.For("   "));
    }

    [Fact]
    public async Task A_malformed_postgres_url_is_a_clear_cli_error_naming_store_and_no_secret()
    {
        using var cli = new CliFixture();
        var (code, _, err) = await cli.InvokeAsync("alice", "--store", "postgres://rb:hunter2@127.0.0.1:notaport/runbook", "runs");
        Assert.Equal(2, code);
        Assert.StartsWith("runbook: --store: ", err, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", err, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", err, StringComparison.Ordinal);
    }
}
