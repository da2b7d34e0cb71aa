using System.Reflection;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.Abstractions;
using Microsoft.AspNetCore.Routing;
using Microsoft.Azure.Functions.Worker;

namespace Keybrake.DevHost;

/// <summary>An HTTP-triggered function as its attributes declare it.</summary>
public sealed record HttpFunction(string Name, string Route, IReadOnlyList<string>? Methods, AuthorizationLevel AuthLevel, MethodInfo Method);

/// <summary>
/// Serves the function classes on Kestrel without the Functions host: every <c>[Function]</c> with an
/// <c>[HttpTrigger]</c> is mapped to the same route and methods, and invoked the way the isolated worker
/// binds them (the <see cref="HttpRequest"/>, route values by parameter name, the cancellation token).
/// </summary>
public static class FunctionRoutes
{
    public static IReadOnlyList<HttpFunction> Discover(Assembly assembly) =>
        assembly.GetTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(m => (Method: m, Function: m.GetCustomAttribute<FunctionAttribute>()))
            .Where(x => x.Function is not null)
            .Select(x => (x.Method, x.Function, Trigger: x.Method.GetParameters()
                .Select(p => p.GetCustomAttribute<HttpTriggerAttribute>())
                .FirstOrDefault(a => a is not null)))
            .Where(x => x.Trigger is not null)
            .Select(x => new HttpFunction(
                x.Function!.Name,
                x.Trigger!.Route ?? x.Function.Name,
                x.Trigger.Methods is { Length: > 0 } methods ? methods.Select(m => m.ToUpperInvariant()).ToList() : null,
                x.Trigger.AuthLevel,
                x.Method))
            .OrderBy(f => f.Name, StringComparer.Ordinal)
            .ToList();

    public static void Map(IEndpointRouteBuilder routes, IEnumerable<HttpFunction> functions)
    {
        // The Functions host orders functions by name (ordinal, ignoring case) and tries their routes in that
        // order, taking the first whose template and method match: a catch-all can shadow a literal route that
        // sorts after it. ASP.NET Core would prefer the literal route; an endpoint Order per name position
        // makes the development host pick the same function the Functions host does.
        int order = 0;
        foreach (HttpFunction function in functions.OrderBy(f => f.Name, StringComparer.OrdinalIgnoreCase))
        {
            string pattern = "/" + function.Route;
            RequestDelegate handler = context => InvokeAsync(function, context);
            IEndpointConventionBuilder endpoint = function.Methods is null
                ? routes.Map(pattern, handler)
                : routes.MapMethods(pattern, function.Methods, handler);
            int position = order++;
            endpoint.WithDisplayName(function.Name).Add(builder => ((RouteEndpointBuilder)builder).Order = position);
        }
    }

    private static async Task InvokeAsync(HttpFunction function, HttpContext context)
    {
        object? instance = function.Method.IsStatic
            ? null
            : Microsoft.Extensions.DependencyInjection.ActivatorUtilities.GetServiceOrCreateInstance(context.RequestServices, function.Method.DeclaringType!);
        object?[] arguments = function.Method.GetParameters().Select(p => Bind(p, context)).ToArray();

        object? result = function.Method.Invoke(instance, arguments);
        if (result is Task task)
        {
            await task;
            result = task.GetType().IsGenericType ? task.GetType().GetProperty("Result")!.GetValue(task) : null;
        }

        if (result is IActionResult actionResult)
        {
            await actionResult.ExecuteResultAsync(new ActionContext(context, context.GetRouteData(), new ActionDescriptor()));
        }
    }

    private static object? Bind(ParameterInfo parameter, HttpContext context)
    {
        if (parameter.ParameterType == typeof(HttpRequest))
        {
            return context.Request;
        }

        if (parameter.ParameterType == typeof(CancellationToken))
        {
            return context.RequestAborted;
        }

        if (parameter.ParameterType == typeof(string))
        {
            return context.GetRouteValue(parameter.Name!)?.ToString();
        }

        throw new InvalidOperationException(
            $"The development host cannot bind parameter '{parameter.Name}' of type {parameter.ParameterType} on {parameter.Member.DeclaringType}.{parameter.Member.Name}.");
    }
}
