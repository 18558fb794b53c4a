using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Tests.Functional;

/// <summary>
/// Microsoft.Orleans.Dashboard as the coordinator serves it under /orleans on its HTTP port (tokens on): the page in
/// headless Chromium, its JSON data endpoints, and the token check in front of all of its routes.
/// </summary>
public sealed partial class OrleansDashboardTests(OrleansDashboardTests.Fixture fixture) : IClassFixture<OrleansDashboardTests.Fixture>
{
    private const string ApiToken = "orleans-dashboard-api-secret";
    private const string JoinToken = "orleans-dashboard-join-secret";

    /// <summary>The coordinator's grain classes that a sweep with a worker activates.</summary>
    private static readonly string[] GrainTypes = ["SweepGrain", "WorkerGrain", "SchedulerGrain"];

    [Fact]
    public async Task The_project_dashboard_links_to_the_Orleans_dashboard_which_shows_the_silo_and_the_coordinator_grain_types()
    {
        var browser = fixture.Browser;
        var silo = await fixture.SiloAddressAsync();

        // From the project's sweeps list, through its "Orleans" link (which carries the token).
        await browser.NavigateAsync(fixture.Url("/dashboard"));
        await browser.WaitForAsync("document.getElementById('orleans-link').href.includes('token=')", "the Orleans link to carry the token");
        await browser.NavigateAsync(await browser.EvaluateAsync<string>("document.getElementById('orleans-link').href"));
        Assert.Equal("/orleans/", await browser.EvaluateAsync<string>("location.pathname"));

        await browser.EvaluateAsync("location.hash = '#/grains'");
        foreach (var type in GrainTypes)
            await browser.WaitForAsync($"document.getElementById('content').innerText.includes('{type}')", $"{type} in the Orleans dashboard's grains page", timeoutSeconds: 30);
        Screenshot(await browser.ScreenshotAsync(DashboardBrowserTests.ScreenshotPath("orleans-grains.png")));

        await browser.EvaluateAsync("location.hash = '#/silos'");
        await browser.WaitForAsync($"document.querySelector('#content a[href=\"#/host/{silo}\"]')", "a link to the silo's page in the silos page", timeoutSeconds: 30);
        Screenshot(await browser.ScreenshotAsync(DashboardBrowserTests.ScreenshotPath("orleans-silos.png")));

        // The silo's own page, which reads its properties and statistics from the data endpoints.
        await browser.EvaluateAsync($"location.hash = '#/host/{silo}'");
        await browser.WaitForAsync($"document.getElementById('content').innerText.includes('{silo}')", "the silo's page", timeoutSeconds: 30);
        Assert.False(await browser.EvaluateAsync<bool>("document.body.innerText.includes('Error connecting to Orleans Silo')"),
            "no request of the page was refused");
        Screenshot(await browser.ScreenshotAsync(DashboardBrowserTests.ScreenshotPath("orleans-silo.png")));
    }

    [Fact]
    public async Task Data_endpoints_return_the_silo_and_the_grain_types_as_json()
    {
        using var http = fixture.Http(ApiToken);
        var counters = await fixture.CountersWithAsync(GrainTypes);

        var host = Assert.Single(counters["hosts"]!.AsArray());
        Assert.Equal("Active", host!["status"]!.GetValue<string>());
        var silo = host["siloAddress"]!.GetValue<string>();
        Assert.Equal(1, counters["totalActiveHostCount"]!.GetValue<int>());
        var stats = counters["simpleGrainStats"]!.AsArray();
        foreach (var type in GrainTypes)
        {
            var stat = stats.FirstOrDefault(s => ShortName(s!["grainType"]!.GetValue<string>()) == type);
            Assert.True(stat is not null, $"{type} in simpleGrainStats: {stats.ToJsonString()}");
            Assert.Equal(silo, stat!["siloAddress"]!.GetValue<string>());
            Assert.True(stat["activationCount"]!.GetValue<int>() >= 1, $"{type} has an activation: {stat.ToJsonString()}");
        }
        Assert.True(counters["totalActivationCount"]!.GetValue<int>() >= GrainTypes.Length);

        // The silo's properties name the Orleans release this coordinator runs.
        var properties = await GetJsonAsync(http, $"/orleans/SiloProperties/{silo}");
        Assert.Contains("10.4.2", properties!["orleansVersion"]!.GetValue<string>(), StringComparison.Ordinal);
        // Grain classes by name: the page's "Grain Details" list.
        var types = (await GetJsonAsync(http, "/orleans/GrainTypes"))!.AsArray().Select(t => ShortName(t!.GetValue<string>())).ToList();
        Assert.True(GrainTypes.All(types.Contains), $"GrainTypes lists the coordinator's grains: {string.Join(", ", types)}");
        // The silo's runtime statistics, one per counter sample (HistoryLength slots, empty ones null), count its activations.
        await WaitForJsonAsync(http, $"/orleans/HistoricalStats/{silo}",
            history => history.AsArray().Any(s => s?["activationCount"]?.GetValue<int>() >= GrainTypes.Length), "an activation count in the silo's history");
        // Grain-call statistics of the silo and of the cluster, keyed by time.
        Assert.IsType<JsonObject>(await GetJsonAsync(http, $"/orleans/SiloStats/{silo}"));
        Assert.IsType<JsonObject>(await GetJsonAsync(http, "/orleans/ClusterStats"));
        // The live log stream is off unless Orchestrator:Dashboard:Orleans:LogStream says otherwise.
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync("/orleans/Trace")).StatusCode);
    }

    [Fact]
    public async Task With_tokens_on_every_Orleans_dashboard_route_answers_401_without_the_token_and_serves_with_it()
    {
        var silo = await fixture.SiloAddressAsync();
        // No cookie jar: a page answered with the token leaves a cookie that would let every later request in.
        using var anonymous = fixture.Http(token: null);

        // Every route the package mapped, whatever its version added, refuses a request without the right token.
        var routes = fixture.Host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => e.RoutePattern.RawText!).Where(r => r.StartsWith("/orleans", StringComparison.Ordinal)).Distinct().ToList();
        Assert.Contains("/orleans/DashboardCounters", routes);
        Assert.Contains("/orleans/index.min.js", routes);
        foreach (var route in routes)
        {
            var path = RouteParameter().Replace(route, m => m.Groups[1].Value switch
            {
                "page" => "1",
                "grainName" => "Orchestrator.Coordinator.Grains.SweepGrain",
                _ => silo,
            });
            Assert.True((await anonymous.GetAsync(path)).StatusCode == HttpStatusCode.Unauthorized, $"{route} without a token");
            Assert.True((await anonymous.GetAsync($"{path}?token={JoinToken}")).StatusCode == HttpStatusCode.Unauthorized, $"{route} with the join token");
        }

        // The page, its script and its data, with the token in the query, in a bearer header, or in the cookie.
        string[] served = ["/orleans/", "/orleans/index.min.js", "/orleans/index.css", "/orleans/version", "/orleans/DashboardCounters",
            "/orleans/ClusterStats", "/orleans/GrainTypes", "/orleans/TopGrainMethods", "/orleans/Reminders", $"/orleans/SiloProperties/{silo}",
            $"/orleans/SiloStats/{silo}", $"/orleans/SiloCounters/{silo}", $"/orleans/HistoricalStats/{silo}",
            "/orleans/GrainStats/Orchestrator.Coordinator.Grains.SweepGrain"];
        using var bearer = fixture.Http(ApiToken);
        foreach (var path in served)
        {
            var withQuery = await anonymous.GetAsync($"{path}?token={ApiToken}");
            Assert.True(withQuery.StatusCode == HttpStatusCode.OK, $"{path} with the token in the query: {withQuery.StatusCode}");
            var withHeader = await bearer.GetAsync(path);
            Assert.True(withHeader.StatusCode == HttpStatusCode.OK, $"{path} with a bearer token: {withHeader.StatusCode}");
        }
        Assert.Contains("index.min.js", await (await bearer.GetAsync("/orleans/")).Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // Opened with ?token=, the page leaves the cookie its scripts' same-origin requests (relative URLs, no token) carry.
        var page = await anonymous.GetAsync($"/orleans/?token={ApiToken}");
        var cookie = Assert.Single(page.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith($"orchestrator_token={ApiToken}", cookie, StringComparison.Ordinal);
        using var withCookie = new HttpRequestMessage(HttpMethod.Get, "/orleans/DashboardCounters");
        withCookie.Headers.Add("Cookie", $"orchestrator_token={ApiToken}");
        Assert.Equal(HttpStatusCode.OK, (await anonymous.SendAsync(withCookie)).StatusCode);
        using var wrongCookie = new HttpRequestMessage(HttpMethod.Get, "/orleans/DashboardCounters");
        wrongCookie.Headers.Add("Cookie", $"orchestrator_token={JoinToken}");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.SendAsync(wrongCookie)).StatusCode);

        // The project's link and the base path without its slash lead, with the token, to the page.
        foreach (var path in new[] { "/dashboard/orleans", "/orleans" })
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync(path)).StatusCode);
            var redirect = await anonymous.GetAsync($"{path}?token={ApiToken}");
            Assert.True((int)redirect.StatusCode is >= 300 and < 400, $"{path}: {redirect.StatusCode}");
            Assert.Equal($"/orleans/?token={ApiToken}", redirect.Headers.Location?.OriginalString);
        }
    }

    private static void Screenshot(long bytes) => Assert.True(bytes > 1000, $"a screenshot of {bytes} bytes is not a rendered page");

    private static async Task<JsonNode?> GetJsonAsync(HttpClient http, string path)
    {
        var response = await http.GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {response.StatusCode}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary>Polls a data endpoint until its JSON satisfies <paramref name="condition"/>; the package fills its history every counter interval.</summary>
    private static async Task WaitForJsonAsync(HttpClient http, string path, Func<JsonNode, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var json = await GetJsonAsync(http, path);
            if (json is not null && condition(json)) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what}: {json?.ToJsonString()}");
            await Task.Delay(200);
        }
    }

    /// <summary>"Orchestrator.Coordinator.Grains.SweepGrain" → "SweepGrain".</summary>
    private static string ShortName(string type) => type[(type.LastIndexOf('.') + 1)..];

    [GeneratedRegex(@"\{\*{0,2}([A-Za-z]+)[^}]*\}")]
    private static partial Regex RouteParameter();

    /// <summary>One coordinator (tokens on, counters sampled every second), one worker, one finished sweep, one browser.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private TestWorker? _worker;

        public CoordinatorHost Host { get; private set; } = null!;
        public HeadlessChromium Browser { get; private set; } = null!;

        public string Url(string path) => $"http://127.0.0.1:{Host.HttpPort}{path}{(path.Contains('?') ? '&' : '?')}token={ApiToken}";

        /// <summary>A client without a cookie jar or redirects; with <paramref name="token"/> as a bearer header when given.</summary>
        public HttpClient Http(string? token)
        {
            var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false })
            {
                BaseAddress = new Uri($"http://127.0.0.1:{Host.HttpPort}"),
            };
            if (token is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            return http;
        }

        /// <summary>
        /// DashboardCounters once they list <paramref name="types"/>: the package samples the silo's grain statistics
        /// every CounterIntervalSeconds, so the first answers may predate the sweep's grains.
        /// </summary>
        public async Task<JsonNode> CountersWithAsync(IEnumerable<string> types)
        {
            using var http = Http(ApiToken);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                var response = await http.GetAsync("/orleans/DashboardCounters");
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode == HttpStatusCode.OK && JsonNode.Parse(body) is { } counters)
                {
                    var present = counters["simpleGrainStats"]!.AsArray().Select(s => ShortName(s!["grainType"]!.GetValue<string>())).ToHashSet();
                    if (counters["hosts"]!.AsArray().Count == 1 && types.All(present.Contains)) return counters;
                }
                if (DateTime.UtcNow > deadline)
                    throw new TimeoutException($"timed out waiting for the Orleans dashboard's counters to list the silo and {string.Join(", ", types)}: {response.StatusCode} {body}");
                await Task.Delay(200);
            }
        }

        public async Task<string> SiloAddressAsync() =>
            (await CountersWithAsync(GrainTypes))["hosts"]![0]!["siloAddress"]!.GetValue<string>();

        public async Task InitializeAsync()
        {
            Host = await CoordinatorHost.StartAsync(apiToken: ApiToken, joinToken: JoinToken,
                settings: new Dictionary<string, string?> { ["Orchestrator:Dashboard:Orleans:CounterIntervalSeconds"] = "1" });
            _worker = new TestWorker(Host.Address, "orleans-dashboard-worker", slots: 2, joinToken: JoinToken);
            await _worker.StartAsync();
            var jobs = Host.Jobs();
            var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { RequestId = Guid.NewGuid().ToString(), Spec = Sweeps.Sleep(maxTrials: 2, parallel: 2, seconds: 0.2) });
            await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State == Proto.SweepState.Completed);
            Browser = await HeadlessChromium.StartAsync();
        }

        public async Task DisposeAsync()
        {
            if (Browser is not null) await Browser.DisposeAsync();
            if (_worker is not null) await _worker.DisposeAsync();
            if (Host is not null) await Host.DisposeAsync();
        }
    }
}
