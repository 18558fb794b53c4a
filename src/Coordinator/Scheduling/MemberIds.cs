using System.Globalization;
using System.Text.RegularExpressions;

namespace Orchestrator.Coordinator.Scheduling;

/// <summary>
/// Attempt ids as workers see them: one per member (rank) of a trial attempt,
/// <c>{sweep}:{trial}:{attempt}:{rank}</c>. Opaque to workers; the coordinator routes a worker's messages by them.
/// </summary>
public static partial class MemberIds
{
    public static string Format(string sweepId, int trial, int attempt, int rank) =>
        string.Create(CultureInfo.InvariantCulture, $"{sweepId}:{trial}:{attempt}:{rank}");

    /// <summary>The group id shared by every member of one attempt.</summary>
    public static string Group(string sweepId, int trial, int attempt) =>
        string.Create(CultureInfo.InvariantCulture, $"{sweepId}:{trial}:{attempt}");

    public static bool TryParse(string? memberId, out MemberId id)
    {
        id = default;
        if (memberId is null) return false;
        var match = Pattern().Match(memberId);
        if (!match.Success) return false;
        id = new MemberId(
            match.Groups[1].Value,
            int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture),
            int.Parse(match.Groups[3].Value, CultureInfo.InvariantCulture),
            int.Parse(match.Groups[4].Value, CultureInfo.InvariantCulture));
        return true;
    }

    /// <summary>Parses an id received from a worker; throws <see cref="ArgumentException"/> naming it when malformed.</summary>
    public static MemberId Parse(string? memberId) =>
        TryParse(memberId, out var id) ? id : throw new ArgumentException($"attempt_id '{memberId}' is not an attempt id this coordinator issued");

    [GeneratedRegex("^(sw-[0-9a-f]{12}):([0-9]{1,9}):([0-9]{1,9}):([0-9]{1,4})$")]
    private static partial Regex Pattern();
}

/// <summary>The parts of a member id.</summary>
public readonly record struct MemberId(string SweepId, int Trial, int Attempt, int Rank)
{
    public override string ToString() => MemberIds.Format(SweepId, Trial, Attempt, Rank);
}
