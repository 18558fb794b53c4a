using System.Net;
using Proto = Orchestrator.Shared.Protos;

namespace Orchestrator.Coordinator.Tests.Functional;

/// <summary>
/// The dashboard in Debian's headless Chromium against a real coordinator (tokens on) and a test worker running
/// sleep trials. Screenshots land in <see cref="ScreenshotDirectory"/> as test artifacts.
/// </summary>
public sealed class DashboardBrowserTests(DashboardBrowserTests.Fixture fixture) : IClassFixture<DashboardBrowserTests.Fixture>
{
    private const string ApiToken = "dashboard-api-secret";
    private const string JoinToken = "dashboard-join-secret";
    private const string TraceUrl = "http://traces.test/trace/{traceId}";

    /// <summary>$TEST_RESULTS_DIR/screenshots when scripts/test.sh sets it, else screenshots beside the test assembly.</summary>
    public static string ScreenshotDirectory =>
        Path.Combine(Environment.GetEnvironmentVariable("TEST_RESULTS_DIR") is { Length: > 0 } results ? results : AppContext.BaseDirectory, "screenshots");

    [Fact]
    public async Task Sweeps_list_lists_the_sweep_and_its_page_shows_the_trials_charts_samples_and_trace_links()
    {
        var browser = fixture.Browser;
        var sweepId = await fixture.RunSweepAsync(maxTrials: 3, parallel: 3, seconds: 0.3);

        await browser.NavigateAsync(fixture.Url("/dashboard"));
        await browser.WaitForAsync($"document.querySelector('#sweeps tbody tr[data-sweep=\"{sweepId}\"]')", "the sweep in the sweeps list");
        Assert.Equal("completed", await browser.EvaluateAsync<string>($"document.querySelector('#sweeps tr[data-sweep=\"{sweepId}\"] td:nth-child(3)').textContent"));
        Screenshot(await browser.ScreenshotAsync(ScreenshotPath("sweeps-list.png")));

        // The list's link (it carries the token) leads to the sweep page.
        await browser.NavigateAsync(await browser.EvaluateAsync<string>($"document.querySelector('#sweeps tr[data-sweep=\"{sweepId}\"] a').href"));
        await browser.WaitForAsync("document.querySelectorAll('#trials tbody tr').length === 3", "three trial rows");
        await browser.WaitForAsync("echarts.getInstanceByDom(document.getElementById('chart-objective')).getOption().series[0].data.length === 3",
            "the objective chart to hold three trials");
        Assert.Equal(3, await browser.EvaluateAsync<int>(
            "echarts.getInstanceByDom(document.getElementById('chart-objective')).getOption().series[1].data.length"));
        Assert.Equal(3, await browser.EvaluateAsync<int>(
            "echarts.getInstanceByDom(document.getElementById('chart-parallel')).getOption().series[0].data.length"));
        // The objective's intermediate reports make the selected trial's evaluation curve.
        Assert.True(await browser.EvaluateAsync<int>(
            "echarts.getInstanceByDom(document.getElementById('chart-eval')).getOption().series.find(s => s.name === 'objective').data.length") >= 1);
        foreach (var chart in new[] { "chart-objective", "chart-parallel", "chart-losses", "chart-eval" })
        {
            Assert.True(await browser.EvaluateAsync<bool>(
                $"(() => {{ const c = document.querySelector('#{chart} canvas'); return !!c && c.width > 0 && c.height > 0; }})()"), $"{chart} has a canvas");
        }
        Assert.Equal(["completed", "completed", "completed"], (await browser.EvaluateAsync(
            "Array.from(document.querySelectorAll('#trials tbody tr td:nth-child(2)')).map(td => td.textContent)"))!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(3, await browser.EvaluateAsync<int>($"document.querySelectorAll('#trials a.trace[href^=\"http://traces.test/trace/\"]').length"));

        // Sorting by objective, then descending.
        await browser.EvaluateAsync("document.querySelector('#trials th[data-key=\"objective\"]').click()");
        var ascending = await Objectives(browser);
        Assert.Equal(ascending.Order(), ascending);
        await browser.EvaluateAsync("document.querySelector('#trials th[data-key=\"objective\"]').click()");
        var descending = await Objectives(browser);
        Assert.Equal(descending.OrderDescending(), descending);

        // Each trial's latest samples grid, served from the artifact store, decoded by the browser.
        await browser.WaitForAsync("document.querySelectorAll('#samples img').length === 3 && Array.from(document.querySelectorAll('#samples img')).every(i => i.complete && i.naturalWidth > 0)",
            "three decoded samples images");
        Assert.True(await browser.EvaluateAsync<bool>("document.getElementById('lineage').hidden"), "a random search has no PBT lineage");
        Screenshot(await browser.ScreenshotAsync(ScreenshotPath("sweep.png")));
    }

    [Fact]
    public async Task Pages_show_a_new_sweep_and_trial_state_changes_without_reloading()
    {
        var browser = fixture.Browser;
        await browser.NavigateAsync(fixture.Url("/dashboard"));
        await browser.WaitForAsync("window.dashboard.updates > 0", "the sweeps list to load");
        await browser.EvaluateAsync("window.notReloaded = true");

        // Submitted while the list is open; slow enough to be seen running on the sweep page below.
        var jobs = fixture.Host.Jobs();
        var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { RequestId = Guid.NewGuid().ToString(), Spec = Sweeps.Sleep(maxTrials: 2, parallel: 2, seconds: 6, reports: 4) });
        await browser.WaitForAsync($"document.querySelector('#sweeps tbody tr[data-sweep=\"{submitted.SweepId}\"]')", "the new sweep to appear in the open list");
        Assert.True(await browser.EvaluateAsync<bool>("window.notReloaded === true"), "the list updated without a reload");
        Screenshot(await browser.ScreenshotAsync(ScreenshotPath("sweeps-list-live.png")));

        await browser.NavigateAsync(fixture.Url($"/dashboard/sweeps/{submitted.SweepId}"));
        await browser.WaitForAsync("document.querySelectorAll('#trials tbody tr').length === 2", "two trial rows");
        await browser.EvaluateAsync("window.notReloaded = true");
        var before = await States(browser);
        Screenshot(await browser.ScreenshotAsync(ScreenshotPath("sweep-running.png")));
        await browser.WaitForAsync("Array.from(document.querySelectorAll('#trials tbody tr td:nth-child(2)')).every(td => td.textContent === 'completed')",
            "both trials to show completed", timeoutSeconds: 40);
        Assert.True(await browser.EvaluateAsync<bool>("window.notReloaded === true"), "the sweep page updated without a reload");
        Assert.Contains(before, s => s != "completed");
        Screenshot(await browser.ScreenshotAsync(ScreenshotPath("sweep-completed.png")));
    }

    [Fact]
    public async Task With_tokens_on_pages_assets_and_data_answer_401_without_the_token_and_200_with_it()
    {
        var sweepId = await fixture.RunSweepAsync(maxTrials: 1, parallel: 1, seconds: 0.1);
        // No cookie jar: a page answered with the token leaves a cookie that would let every later request in.
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false }) { BaseAddress = new Uri($"http://127.0.0.1:{fixture.Host.HttpPort}") };
        string[] paths = ["/", "/dashboard", $"/dashboard/sweeps/{sweepId}", "/dashboard/assets/echarts.min.js", "/dashboard/assets/sweep.js",
            "/api/dashboard/sweeps", $"/api/dashboard/sweeps/{sweepId}", $"/api/dashboard/sweeps/{sweepId}/trials/0/samples"];
        foreach (var path in paths)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(path)).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync($"{path}?token={JoinToken}")).StatusCode);
            var allowed = await http.GetAsync($"{path}?token={ApiToken}");
            Assert.True(allowed.StatusCode == HttpStatusCode.OK, $"{path} with the token: {allowed.StatusCode}");
        }
        var samples = await http.GetAsync($"/api/dashboard/sweeps/{sweepId}/trials/0/samples?token={ApiToken}");
        Assert.Equal("image/png", samples.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TestWorker.SamplesPng, await samples.Content.ReadAsByteArrayAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/api/dashboard/sweeps/{sweepId}/trials/7/samples?token={ApiToken}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/dashboard/assets/..%2Fsecret?token={ApiToken}")).StatusCode);

        // The cookie a page leaves lets its scripts fetch without the query parameter.
        var page = await http.GetAsync($"/dashboard?token={ApiToken}");
        var cookie = Assert.Single(page.Headers.GetValues("Set-Cookie"));
        Assert.StartsWith($"orchestrator_token={ApiToken}", cookie, StringComparison.Ordinal);
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        using var withCookie = new HttpRequestMessage(HttpMethod.Get, "/api/dashboard/sweeps");
        withCookie.Headers.Add("Cookie", $"orchestrator_token={ApiToken}");
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(withCookie)).StatusCode);
    }

    private static async Task<List<double>> Objectives(HeadlessChromium browser) =>
        (await browser.EvaluateAsync("window.dashboard.sweep.trials.length && Array.from(document.querySelectorAll('#trials tbody tr')).map(r => window.dashboard.sweep.trials.find(t => t.number === Number(r.dataset.trial)).objective)"))!
            .AsArray().Select(n => n!.GetValue<double>()).ToList();

    private static async Task<List<string>> States(HeadlessChromium browser) =>
        (await browser.EvaluateAsync("Array.from(document.querySelectorAll('#trials tbody tr td:nth-child(2)')).map(td => td.textContent)"))!
            .AsArray().Select(n => n!.GetValue<string>()).ToList();

    internal static string ScreenshotPath(string name) => Path.Combine(ScreenshotDirectory, name);

    private static void Screenshot(long bytes) => Assert.True(bytes > 1000, $"a screenshot of {bytes} bytes is not a rendered page");

    /// <summary>One coordinator (tokens on, trace links configured), one worker and one browser for the class.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private TestWorker? _worker;

        public CoordinatorHost Host { get; private set; } = null!;
        public HeadlessChromium Browser { get; private set; } = null!;

        public string Url(string path) => $"http://127.0.0.1:{Host.HttpPort}{path}{(path.Contains('?') ? '&' : '?')}token={ApiToken}";

        public async Task<string> RunSweepAsync(int maxTrials, int parallel, double seconds)
        {
            var jobs = Host.Jobs();
            var submitted = await jobs.SubmitSweepAsync(new Proto.SubmitSweepRequest { RequestId = Guid.NewGuid().ToString(), Spec = Sweeps.Sleep(maxTrials, parallel, seconds) });
            await Sweeps.WaitForAsync(jobs, submitted.SweepId, s => s.Summary.State == Proto.SweepState.Completed);
            return submitted.SweepId;
        }

        public async Task InitializeAsync()
        {
            Host = await CoordinatorHost.StartAsync(apiToken: ApiToken, joinToken: JoinToken,
                settings: new Dictionary<string, string?> { ["Orchestrator:Dashboard:TraceUrl"] = TraceUrl });
            _worker = new TestWorker(Host.Address, "dashboard-worker", slots: 3, joinToken: JoinToken) { UploadSamples = true };
            await _worker.StartAsync();
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
