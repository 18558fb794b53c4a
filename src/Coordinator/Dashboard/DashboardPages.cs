using System.Collections.Frozen;
using Microsoft.Extensions.Options;

namespace Orchestrator.Coordinator.Dashboard;

/// <summary>
/// The dashboard's web pages and their scripts, embedded in the assembly: the sweeps list at <c>/</c> and
/// <c>/dashboard</c>, one sweep at <c>/dashboard/sweeps/{id}</c>, and <c>/dashboard/orleans</c> leading to the Orleans
/// dashboard (<see cref="OrleansDashboard"/>). Behind the same token as the data endpoints; a
/// page opened with <c>?token=</c> leaves the token in a cookie so that its scripts' requests carry it.
/// </summary>
public static class DashboardPages
{
    private const string Prefix = "dashboard/";

    /// <summary>Asset name → content type; what is not listed here is not served.</summary>
    private static readonly FrozenDictionary<string, string> Assets = new Dictionary<string, string>
    {
        ["index.html"] = "text/html; charset=utf-8",
        ["sweep.html"] = "text/html; charset=utf-8",
        ["dashboard.css"] = "text/css; charset=utf-8",
        ["dashboard.js"] = "text/javascript; charset=utf-8",
        ["sweeps.js"] = "text/javascript; charset=utf-8",
        ["sweep.js"] = "text/javascript; charset=utf-8",
        // Installed by the build (npm ci in Dashboard/web) and embedded from node_modules.
        ["echarts.min.js"] = "text/javascript; charset=utf-8",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static void MapDashboardPages(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").AddEndpointFilter(DashboardEndpoints.RequireTokenAsync).AddEndpointFilter(RememberToken);
        group.MapGet("/", () => Asset("index.html"));
        group.MapGet("/dashboard", () => Asset("index.html"));
        group.MapGet("/dashboard/sweeps/{sweepId}", () => Asset("sweep.html"));
        group.MapGet("/dashboard/assets/{name}", (string name) => Asset(name));
        // The pages' "Orleans" link: the static pages need not know the configured path of the Orleans dashboard.
        group.MapGet("/dashboard/orleans", (HttpRequest request, IOptions<DashboardOptions> options) =>
            options.Value.Orleans.Enabled ? Results.Redirect(options.Value.Orleans.Path + "/" + request.QueryString) : Results.NotFound());
    }

    private static IResult Asset(string name)
    {
        if (!Assets.TryGetValue(name, out var type)) return Results.NotFound();
        var stream = typeof(DashboardPages).Assembly.GetManifestResourceStream(Prefix + name);
        return stream is null ? Results.NotFound() : Results.Stream(stream, type);
    }

    internal static async ValueTask<object?> RememberToken(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        // Only reached with a valid token (the filter before this one refuses the rest).
        if (http.Request.Query.TryGetValue("token", out var token) && token.ToString().Length > 0)
        {
            http.Response.Cookies.Append(DashboardEndpoints.CookieName, token.ToString(), new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                Secure = http.Request.IsHttps,
                Path = "/",
            });
        }
        return await next(context);
    }
}
