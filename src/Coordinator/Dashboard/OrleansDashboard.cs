using Orleans.Dashboard;

namespace Orchestrator.Coordinator.Dashboard;

/// <summary>
/// Microsoft.Orleans.Dashboard (silos, grain types, activations, calls) in the coordinator's own Kestrel host: its
/// page and JSON endpoints under <see cref="OrleansDashboardOptions.Path"/>, behind the same token check as the
/// project's dashboard. The page's scripts fetch relative URLs without a token, so a page opened with
/// <c>?token=</c> leaves the token in the dashboard's cookie, which those same-origin requests carry.
/// </summary>
public static class OrleansDashboard
{
    public static ISiloBuilder AddOrleansDashboard(this ISiloBuilder silo, OrleansDashboardOptions options)
    {
        silo.AddDashboard(dashboard =>
        {
            dashboard.CounterUpdateIntervalMs = options.CounterIntervalSeconds * 1000;
            dashboard.HistoryLength = options.HistoryLength;
            dashboard.HideTrace = !options.LogStream;
        });
        silo.Services.Configure<GrainProfilerOptions>(profiler =>
        {
            // Profile grain calls only while someone is looking; the package's default, made explicit and configurable.
            profiler.TraceAlways = false;
            profiler.DeactivationTime = TimeSpan.FromSeconds(options.ProfilerIdleSeconds);
        });
        return silo;
    }

    public static void MapOrleansDashboard(this IEndpointRouteBuilder app, OrleansDashboardOptions options)
    {
        if (!options.Enabled) return;
        // The package maps every route (page, assets, data, log stream) in this one group, so the filters cover them all.
        ServiceCollectionExtensions.MapOrleansDashboard(app, options.Path)
            .AddEndpointFilter(DashboardEndpoints.RequireTokenAsync)
            .AddEndpointFilter(DashboardPages.RememberToken);
    }
}
