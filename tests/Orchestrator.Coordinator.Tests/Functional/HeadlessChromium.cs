using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Orchestrator.Coordinator.Tests.Functional;

/// <summary>
/// Debian's headless Chromium driven over the DevTools protocol (a WebSocket, no Playwright): one page, navigated,
/// evaluated in and photographed. The browser is killed, with its profile directory, on dispose.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string Executable = "/usr/bin/chromium";

    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonObject>> _pending = new();
    private readonly CancellationTokenSource _life = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private Task? _reader;
    private string? _session;
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    public static async Task<HeadlessChromium> StartAsync(int width = 1400, int height = 1800)
    {
        if (!File.Exists(Executable))
            throw new InvalidOperationException($"{Executable} is missing: install Debian's 'chromium' package (scripts/test.sh does)");
        var profile = Directory.CreateTempSubdirectory("chromium-profile-").FullName;
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--remote-debugging-port=0", $"--user-data-dir={profile}", $"--window-size={width},{height}", "about:blank" })
            start.ArgumentList.Add(argument);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"{Executable} did not start");
        var browser = new HeadlessChromium(process, profile);
        try
        {
            var endpoint = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            var stderr = new StringBuilder();
            process.ErrorDataReceived += (_, e) =>
            {
                if (e.Data is null) return;
                lock (stderr) stderr.AppendLine(e.Data);
                const string marker = "DevTools listening on ";
                var at = e.Data.IndexOf(marker, StringComparison.Ordinal);
                if (at >= 0) endpoint.TrySetResult(e.Data[(at + marker.Length)..].Trim());
            };
            process.OutputDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var first = await Task.WhenAny(endpoint.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(30)));
            if (first != endpoint.Task)
            {
                string seen;
                lock (stderr) seen = stderr.ToString();
                throw new InvalidOperationException($"chromium printed no DevTools endpoint; stderr:\n{seen}");
            }
            await browser.ConnectAsync(new Uri(await endpoint.Task), width, height);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    private async Task ConnectAsync(Uri browserEndpoint, int width, int height)
    {
        await _socket.ConnectAsync(browserEndpoint, _life.Token);
        _reader = Task.Run(ReadAsync);
        var target = await SendAsync("Target.createTarget", new JsonObject { ["url"] = "about:blank" }, browserLevel: true);
        var attached = await SendAsync("Target.attachToTarget",
            new JsonObject { ["targetId"] = target["targetId"]!.GetValue<string>(), ["flatten"] = true }, browserLevel: true);
        _session = attached["sessionId"]!.GetValue<string>();
        await SendAsync("Page.enable");
        await SendAsync("Runtime.enable");
        await SendAsync("Emulation.setDeviceMetricsOverride",
            new JsonObject { ["width"] = width, ["height"] = height, ["deviceScaleFactor"] = 1, ["mobile"] = false });
    }

    /// <summary>Navigates and waits until the document has loaded (scripts ran).</summary>
    public async Task NavigateAsync(string url)
    {
        var result = await SendAsync("Page.navigate", new JsonObject { ["url"] = url });
        if (result["errorText"] is { } error) throw new InvalidOperationException($"navigation to {url} failed: {error}");
        await WaitForAsync("document.readyState === 'complete'", $"{url} to load");
    }

    /// <summary>Evaluates a JavaScript expression (promises awaited) and returns its value as JSON.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate",
            new JsonObject { ["expression"] = expression, ["returnByValue"] = true, ["awaitPromise"] = true });
        if (result["exceptionDetails"] is { } exception)
            throw new InvalidOperationException($"'{expression}' threw: {exception.ToJsonString()}");
        return result["result"]?["value"];
    }

    public async Task<T> EvaluateAsync<T>(string expression)
    {
        var value = await EvaluateAsync(expression) ?? throw new InvalidOperationException($"'{expression}' returned no value");
        return value.GetValue<T>();
    }

    /// <summary>Polls <paramref name="expression"/> until it is true; the timeout names what was awaited.</summary>
    public async Task WaitForAsync(string expression, string what, int timeoutSeconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(timeoutSeconds);
        while (true)
        {
            var value = await EvaluateAsync($"!!({expression})");
            if (value?.GetValue<bool>() == true) return;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what} ({expression})");
            await Task.Delay(100);
        }
    }

    /// <summary>A PNG of the viewport written to <paramref name="path"/>; returns its size in bytes.</summary>
    public async Task<long> ScreenshotAsync(string path)
    {
        var result = await SendAsync("Page.captureScreenshot", new JsonObject { ["format"] = "png" });
        var bytes = Convert.FromBase64String(result["data"]!.GetValue<string>());
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, bytes);
        return bytes.Length;
    }

    private async Task<JsonObject> SendAsync(string method, JsonObject? parameters = null, bool browserLevel = false)
    {
        var id = Interlocked.Increment(ref _nextId);
        var message = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = parameters ?? new JsonObject() };
        if (!browserLevel) message["sessionId"] = _session;
        var reply = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        await _sendLock.WaitAsync(_life.Token);
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(message.ToJsonString()), WebSocketMessageType.Text, true, _life.Token);
        }
        finally
        {
            _sendLock.Release();
        }
        var response = await reply.Task.WaitAsync(TimeSpan.FromSeconds(30));
        if (response["error"] is { } error) throw new InvalidOperationException($"{method} failed: {error.ToJsonString()}");
        return response["result"]?.AsObject() ?? new JsonObject();
    }

    private async Task ReadAsync()
    {
        var buffer = new byte[1 << 16];
        using var message = new MemoryStream();
        try
        {
            while (!_life.IsCancellationRequested)
            {
                message.SetLength(0);
                WebSocketReceiveResult received;
                do
                {
                    received = await _socket.ReceiveAsync(buffer, _life.Token);
                    if (received.MessageType == WebSocketMessageType.Close) return;
                    message.Write(buffer, 0, received.Count);
                } while (!received.EndOfMessage);
                var json = JsonNode.Parse(message.ToArray())!.AsObject();
                // Events (no id) are not needed: the tests poll the page's state instead.
                if (json["id"] is { } id && _pending.TryRemove(id.GetValue<int>(), out var reply)) reply.TrySetResult(json);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
            // The browser went away or we are disposing.
        }
        finally
        {
            foreach (var reply in _pending.Values) reply.TrySetException(new InvalidOperationException("the DevTools connection closed"));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _life.CancelAsync();
        _socket.Dispose();
        if (_reader is not null) await _reader;
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            // Already gone.
        }
        _process.Dispose();
        _life.Dispose();
        _sendLock.Dispose();
        try
        {
            Directory.Delete(_profile, recursive: true);
        }
        catch (IOException)
        {
            // Chromium's last writes may race the delete; the temporary directory is left for the system to clean.
        }
    }
}
