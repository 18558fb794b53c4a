using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Orchestrator.Coordinator.Artifacts;
using Orchestrator.Coordinator.Extensions;
using Orchestrator.Coordinator.Grains;
using Orchestrator.Coordinator.Telemetry;

namespace Orchestrator.Coordinator.Dashboard;

/// <summary>
/// The dashboard's JSON data endpoints (HTTP/1.1): the sweeps list and one sweep with its trials, for the web page
/// and for scripts. Behind the API token when one is set: a bearer header, a <c>token</c> query parameter or the
/// <c>orchestrator_token</c> cookie.
/// </summary>
public static class DashboardEndpoints
{
    public const string CookieName = "orchestrator_token";

    public static void MapDashboardData(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/dashboard").AddEndpointFilter(RequireTokenAsync);
        group.MapGet("/sweeps", ListAsync);
        group.MapGet("/sweeps/{sweepId}", GetAsync);
        group.MapGet("/sweeps/{sweepId}/trials/{trial:int}/samples", SamplesAsync);
    }

    private static async Task<IResult> ListAsync(IGrainFactory grains)
    {
        var ids = await grains.GetGrain<ISweepRegistryGrain>(0).ListAsync();
        var records = await Task.WhenAll(ids.Select(id => grains.GetGrain<ISweepGrain>(id).GetAsync()));
        return Results.Ok(records.Where(r => r is not null).Select(r => Summary(r!)).OrderByDescending(s => s.CreatedAt));
    }

    private static async Task<IResult> GetAsync(string sweepId, IGrainFactory grains, IOptions<DashboardOptions> options)
    {
        if (sweepId.Length is 0 or > 128) return Results.NotFound();
        var sweep = await grains.GetGrain<ISweepGrain>(sweepId).GetAsync();
        if (sweep is null) return Results.NotFound();
        return Results.Ok(new
        {
            Summary = Summary(sweep),
            Goal = Goal(sweep),
            options.Value.TraceUrl,
            Trials = sweep.Trials.Select(t => new
            {
                t.Number,
                State = Statuses.Name(t.Status),
                t.Parameters,
                Attempts = t.Attempts.Count,
                t.Objective,
                t.Step,
                t.TotalSteps,
                t.Reason,
                t.TraceId,
                t.LastMetrics,
                History = t.History.Select(p => new { p.Step, p.Metrics }),
                Samples = LatestSamples(t)?.Name,
                SamplesStep = LatestSamples(t)?.Step,
                Lineage = t.Lineage.Select(l => new { l.Step, l.SourceTrial, l.SourceCheckpointStep, l.OldParameters, l.NewParameters, l.At }),
            }),
        });
    }

    /// <summary>The newest samples grid of a trial, as an image; 404 when the trial has none yet.</summary>
    private static async Task<IResult> SamplesAsync(string sweepId, int trial, IGrainFactory grains, ArtifactStore store)
    {
        if (sweepId.Length is 0 or > 128 || trial < 0) return Results.NotFound();
        var sweep = await grains.GetGrain<ISweepGrain>(sweepId).GetAsync();
        if (sweep is null || trial >= sweep.Trials.Count) return Results.NotFound();
        if (LatestSamples(sweep.Trials[trial]) is not { } samples) return Results.NotFound();
        try
        {
            // The name comes from the trial's record, and the store validates it again before touching the disk.
            var stream = store.OpenRead(sweepId, trial, samples.Name);
            var type = samples.Name.EndsWith(".png", StringComparison.OrdinalIgnoreCase) ? "image/png" : "application/octet-stream";
            return Results.Stream(stream, type);
        }
        catch (Exception e) when (e is FileNotFoundException or ArgumentException)
        {
            return Results.NotFound();
        }
    }

    private static ArtifactRecord? LatestSamples(TrialRecord trial) =>
        trial.Artifacts.Where(a => a.Kind == ArtifactKinds.Samples).OrderBy(a => a.Step).LastOrDefault();

    /// <summary>"minimize" or "maximize": the page needs it for best-so-far.</summary>
    private static string Goal(SweepRecord sweep)
    {
        var goal = Shared.Protos.SweepSpec.Parser.ParseFrom(sweep.SpecProto).Objective?.Goal;
        return string.Equals(goal, "maximize", StringComparison.OrdinalIgnoreCase) ? "maximize" : "minimize";
    }

    private static SweepSummary Summary(SweepRecord sweep) => new(sweep.Id, sweep.Name, Statuses.Name(sweep.Status), sweep.CreatedAt,
        sweep.Trials.Count, sweep.MaxTrials, sweep.Active, sweep.BestTrial, sweep.BestObjective, sweep.Reason);

    internal static async ValueTask<object?> RequireTokenAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var expected = http.RequestServices.GetRequiredService<IOptions<CoordinatorOptions>>().Value.Auth.ApiToken;
        if (!string.IsNullOrEmpty(expected) && !Matches(GivenToken(http.Request), expected)) return Results.Unauthorized();
        return await next(context);
    }

    /// <summary>The token a browser or script presented, from the header, the query or the cookie.</summary>
    public static string? GivenToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.Ordinal)) return header["Bearer ".Length..].Trim();
        if (request.Query.TryGetValue("token", out var query)) return query.ToString();
        return request.Cookies.TryGetValue(CookieName, out var cookie) ? cookie : null;
    }

    public static bool Matches(string? given, string expected) =>
        given is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(expected));

    /// <summary>One sweep in the list.</summary>
    public sealed record SweepSummary(string Id, string Name, string State, DateTime CreatedAt, int Trials, int MaxTrials, int Active,
        int? BestTrial, double? BestObjective, string? Reason);
}
