%% molt_peer is the Erlang/OTP peer of molt's benchmark runner
%% (go run ./benchmarks): the same update, measured the way OTP does it, in
%% the same run and on the same machine as molt.
%%
%% The process it updates is a gen_server holding a counter. Its state has
%% two shapes, like molt's "counter" kind: version 1 is {v1, N}, version 2
%% is {v2, N, Total}. code_change/3 turns one into the other: up with
%% OldVsn 1 and Extra up, down with OldVsn {down, 1} and Extra down (OTP's
%% convention for a downgrade). One update is what release_handler does to
%% a process: sys:suspend, sys:change_code, sys:resume, three synchronous
%% round trips from the updating process. The module does not load new
%% code: loading a module is once per node in OTP, not per process, and
%% molt's updates load none either.
%%
%% The runner compiles this file with erlc and runs it as
%%
%%   erl -noshell -pa DIR +S N:N -run molt_peer main MODE KEY=VALUE... -s init stop
%%
%% MODE latency: one process updated back and forth, up, down, up...;
%%   keys warmup_ns (run unmeasured at least this long, at least one
%%   update), duration_ns (then measure at least this long, at least one
%%   update) and count (if positive, measure exactly this many updates
%%   instead of a duration).
%% MODE fleet: size processes (key size) updated by one coordinator, one
%%   process after the other, each suspended, changed and resumed before the
%%   next; one pass updates every process once, in one direction. After the
%%   spawn, unmeasured passes for at least warmup_ns and at least two (there
%%   and back: the first passes after the spawn are slower); then it prints
%%   ready and runs one measured pass for each line "pass" it reads on
%%   standard input, until a line "stop" or the end of its input. The
%%   runner drives it so, to alternate its passes with molt's packages: a
%%   slow moment of the machine then hits both.
%%
%% Output, on standard output, one record per line, words separated by
%% single spaces, every time in nanoseconds of erlang:monotonic_time:
%%
%%   molt_peer 1 otp=25 schedulers=2     first line: format version 1
%%   latency_ns 4012 3877 ...            latency: the round trips, any
%%                                       number of lines
%%   spawn size=100000 ns=210000000      fleet: spawning the processes
%%   ready                               fleet: warmed up, reading commands
%%   pass size=100000 updated=100000 ns=450000000
%%                                       fleet: one measured pass
%%   done ops=12345                      latency: last line, how many
%%                                       latency_ns values came before
%%   done passes=4                       fleet: last line, how many pass
%%                                       lines came before
%%   error REASON                        instead of done: what failed; erl
%%                                       then exits with status 3
%%
%% After measuring, every process's state is checked to have the shape of
%% the version its last update went to, with the counter it started with:
%% an update that did not run fails the run.
-module(molt_peer).
-behaviour(gen_server).

-export([main/1]).
-export([init/1, handle_call/3, handle_cast/2, code_change/3]).

%% Latency samples are kept off the measuring process's heap, in atomics
%% arrays of this many slots, so that a growing list of samples does not
%% make the garbage collections that land inside timed updates longer.
-define(CHUNK, 65536).

%% --- The gen_server. ---

init(N) -> {ok, {v1, N}}.

handle_call(state, _From, State) -> {reply, State, State}.

handle_cast({add, K}, {v1, N}) -> {noreply, {v1, N + K}};
handle_cast({add, K}, {v2, N, Total}) -> {noreply, {v2, N + K, Total + K}}.

%% code_change is the migration: version 1 to 2 carries the counter and
%% starts the total from it; 2 to 1 keeps the counter.
code_change(1, {v1, N}, up) -> {ok, {v2, N, N}};
code_change({down, 1}, {v2, N, _Total}, down) -> {ok, {v1, N}}.

%% --- Entry point. ---

%% main runs one mode and prints its records. Any failure is printed as an
%% error line and ends the node with status 3, so that the runner never
%% mistakes a crash for a short run.
main([Mode | Args]) ->
    try
        Opts = parse_args(Args),
        io:put_chars([<<"molt_peer 1 otp=">>, erlang:system_info(otp_release),
                      <<" schedulers=">>, integer_to_binary(erlang:system_info(schedulers_online)), $\n]),
        run(Mode, Opts)
    catch
        Class:Reason:Stack ->
            Text = io_lib:format("~p:~p ~p", [Class, Reason, Stack]),
            io:put_chars([<<"error ">>, one_line(Text), $\n]),
            erlang:halt(3, [{flush, true}])
    end;
main([]) ->
    io:put_chars(<<"error no mode given: latency or fleet\n">>),
    erlang:halt(3, [{flush, true}]).

run("latency", Opts) -> latency(Opts);
run("fleet", Opts) -> fleet(Opts);
run(Mode, _) -> error({unknown_mode, Mode}).

parse_args(Args) ->
    maps:from_list([parse_arg(A) || A <- Args]).

parse_arg(Arg) ->
    case string:split(Arg, "=") of
        [Key, Value] -> {list_to_atom(Key), list_to_integer(Value)};
        _ -> error({bad_argument, Arg})
    end.

opt(Key, Opts, Default) -> maps:get(Key, Opts, Default).

one_line(Text) ->
    string:replace(lists:flatten(Text), "\n", " ", all).

now_ns() -> erlang:monotonic_time(nanosecond).

%% --- One update. ---

%% update moves Pid one step, up (1 to 2) or down (2 to 1), as
%% release_handler would: suspend, change_code, resume. A code_change that
%% fails makes sys:change_code return an error, which fails the match.
update(Pid, up) ->
    ok = sys:suspend(Pid),
    ok = sys:change_code(Pid, ?MODULE, 1, up),
    ok = sys:resume(Pid);
update(Pid, down) ->
    ok = sys:suspend(Pid),
    ok = sys:change_code(Pid, ?MODULE, {down, 1}, down),
    ok = sys:resume(Pid).

flip(up) -> down;
flip(down) -> up.

%% check fails unless Pid holds counter N in the shape of the version its
%% last update (Last) went to.
check(Pid, N, Last) ->
    case {Last, gen_server:call(Pid, state)} of
        {up, {v2, N, _}} -> ok;
        {down, {v1, N}} -> ok;
        {_, Got} -> error({wrong_state, Pid, Last, N, Got})
    end.

%% --- Latency: one process. ---

latency(Opts) ->
    {ok, Pid} = gen_server:start(?MODULE, 7, []),
    Dir0 = warm(Pid, up, now_ns() + opt(warmup_ns, Opts, 100000000)),
    {Dir, Chunks, Ops} =
        case opt(count, Opts, 0) of
            Count when Count > 0 -> measure_count(Pid, Dir0, Count);
            _ -> measure_for(Pid, Dir0, now_ns() + opt(duration_ns, Opts, 1000000000))
        end,
    check(Pid, 7, Dir),
    print_samples(lists:reverse(Chunks), Ops),
    io:put_chars([<<"done ops=">>, integer_to_binary(Ops), $\n]),
    gen_server:stop(Pid).

%% warm updates Pid unmeasured until End, at least once, and returns the
%% next direction.
warm(Pid, Dir, End) ->
    update(Pid, Dir),
    case now_ns() >= End of
        true -> flip(Dir);
        false -> warm(Pid, flip(Dir), End)
    end.

%% The samples: a list of full atomics chunks, newest first, and the
%% current chunk with its fill.
measure_count(Pid, Dir, Count) ->
    sample_loop(Pid, Dir, fun(Ops, _Now) -> Ops >= Count end).

measure_for(Pid, Dir, End) ->
    sample_loop(Pid, Dir, fun(_Ops, Now) -> Now >= End end).

sample_loop(Pid, Dir, Done) ->
    sample_loop(Pid, Dir, Done, [], atomics:new(?CHUNK, [{signed, false}]), 0, 0).

sample_loop(Pid, Dir, Done, Full, Chunk, Fill, Ops) ->
    T0 = now_ns(),
    update(Pid, Dir),
    T1 = now_ns(),
    ok = atomics:put(Chunk, Fill + 1, T1 - T0),
    {Full1, Chunk1, Fill1} =
        case Fill + 1 of
            ?CHUNK -> {[{Chunk, ?CHUNK} | Full], atomics:new(?CHUNK, [{signed, false}]), 0};
            F -> {Full, Chunk, F}
        end,
    case Done(Ops + 1, T1) of
        true -> {Dir, [{Chunk1, Fill1} | Full1], Ops + 1};
        false -> sample_loop(Pid, flip(Dir), Done, Full1, Chunk1, Fill1, Ops + 1)
    end.

%% print_samples writes the samples, 1,000 to a line.
print_samples(Chunks, Ops) ->
    Samples = lists:append([[atomics:get(C, I) || I <- lists:seq(1, Fill)] || {C, Fill} <- Chunks]),
    Ops = length(Samples),
    print_lines(Samples).

print_lines([]) -> ok;
print_lines(Samples) ->
    {Line, Rest} =
        case length(Samples) > 1000 of
            true -> lists:split(1000, Samples);
            false -> {Samples, []}
        end,
    io:put_chars([<<"latency_ns">>, [[$\s, integer_to_binary(S)] || S <- Line], $\n]),
    print_lines(Rest).

%% --- Fleet: many processes, one coordinator. ---

fleet(Opts) ->
    Size = opt(size, Opts, 100000),
    Size > 0 orelse error({bad_size, Size}),
    T0 = now_ns(),
    Pids = [begin {ok, P} = gen_server:start(?MODULE, I, []), P end || I <- lists:seq(1, Size)],
    io:put_chars([<<"spawn size=">>, integer_to_binary(Size), <<" ns=">>, integer_to_binary(now_ns() - T0), $\n]),
    WarmEnd = now_ns() + opt(warmup_ns, Opts, 100000000),
    Dir0 = warm_fleet(Pids, up, WarmEnd, 0),
    io:put_chars(<<"ready\n">>),
    {Last, Passes} = serve(Pids, Size, Dir0, flip(Dir0), 0),
    lists:foldl(fun(P, I) -> check(P, I, Last), I + 1 end, 1, Pids),
    io:put_chars([<<"done passes=">>, integer_to_binary(Passes), $\n]),
    [exit(P, kill) || P <- Pids],
    ok.

%% warm_fleet runs unmeasured passes until End, at least two (there and
%% back), and returns the next direction.
warm_fleet(Pids, Dir, End, Done) ->
    lists:foreach(fun(P) -> update(P, Dir) end, Pids),
    case Done + 1 >= 2 andalso now_ns() >= End of
        true -> flip(Dir);
        false -> warm_fleet(Pids, flip(Dir), End, Done + 1)
    end.

%% serve runs one measured pass, in direction Dir, per "pass" line read,
%% printing one line for each, until "stop" or the end of the input; it
%% returns the last pass's direction (Last) and the number of passes.
serve(Pids, Size, Dir, Last, Done) ->
    case io:get_line(standard_io, "") of
        "pass\n" ->
            T0 = now_ns(),
            lists:foreach(fun(P) -> update(P, Dir) end, Pids),
            T1 = now_ns(),
            io:put_chars([<<"pass size=">>, integer_to_binary(Size), <<" updated=">>, integer_to_binary(Size),
                          <<" ns=">>, integer_to_binary(T1 - T0), $\n]),
            serve(Pids, Size, flip(Dir), Dir, Done + 1);
        Stop when Stop =:= "stop\n"; Stop =:= eof ->
            {Last, Done};
        Other ->
            error({unknown_command, Other})
    end.
