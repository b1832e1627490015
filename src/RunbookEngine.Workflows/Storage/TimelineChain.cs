using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace RunbookEngine.Workflows.Storage;

/// <summary>
/// The hash chain that makes a run's timeline tamper-evident: each event's hash covers the previous
/// event's hash and every field of the event, so editing, removing or reordering an event breaks every
/// hash after it.
/// </summary>
public static class TimelineChain
{
    /// <summary>Gets the hash that stands before the first event.</summary>
    public static string Genesis { get; } = new('0', 64);

    /// <summary>Computes an event's hash.</summary>
    /// <param name="previousHash">The previous event's hash, or <see cref="Genesis"/>.</param>
    /// <param name="runId">The run.</param>
    /// <param name="sequence">The event's sequence number.</param>
    /// <param name="at">When it happened.</param>
    /// <param name="actor">Who caused it.</param>
    /// <param name="kind">What happened.</param>
    /// <param name="data">The data JSON text.</param>
    /// <returns>Lower-case hex SHA-256.</returns>
    public static string ComputeHash(string previousHash, string runId, long sequence, DateTimeOffset at, string actor, string kind, string? data)
    {
        var text = string.Join(
            '\u001f',
            previousHash,
            runId,
            sequence.ToString(CultureInfo.InvariantCulture),
            at.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
            actor,
            kind,
            data ?? string.Empty);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }

    /// <summary>Checks a whole timeline: contiguous sequence numbers from 1 and an unbroken chain.</summary>
    /// <param name="events">The events in order.</param>
    /// <returns>Null when intact, else the sequence number of the first event that does not verify and why.</returns>
    public static (long Sequence, string Problem)? Verify(IReadOnlyList<TimelineEvent> events)
    {
        ArgumentNullException.ThrowIfNull(events);
        var previous = Genesis;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e.Sequence != i + 1)
            {
                return (e.Sequence, $"expected sequence {i + 1}, found {e.Sequence} (an event is missing or out of order)");
            }

            var expected = ComputeHash(previous, e.RunId, e.Sequence, e.At, e.Actor, e.Kind, e.Data);
            if (!string.Equals(expected, e.Hash, StringComparison.Ordinal))
            {
                return (e.Sequence, "hash does not match the event's content and its predecessor (the event was altered)");
            }

            previous = e.Hash;
        }

        return null;
    }
}
