package rescaler.sample;

import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.metrics.Counter;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

import java.util.concurrent.ThreadLocalRandom;

/**
 * The sample stateful job the tests rescale: a keyed counter over many keys.
 *
 * <p>Source (a number sequence, throttled in the same chain) -> keyBy(value mod keys) ->
 * "Counter", which keeps one count per key in keyed state. Checkpointing is on and max
 * parallelism is 128, so it can be rescaled from a savepoint or in place. Its parallelism is
 * whatever the submission asks for.
 *
 * <p>How a test sees that state survived a restart: the Counter operator reports the metric
 * {@code freshKeys}, the number of keys it met with no stored count since this run began. A fresh
 * start sees every key fresh ({@code keys} of them); a restart from a savepoint or checkpoint sees
 * none. {@code maxCount} is the largest count it holds, which keeps rising across restarts.
 *
 * <p>Written against the API common to Flink 1.18 through 2.x: no DataGeneratorSource (absent in
 * 1.18's flink-dist), no open(Configuration) (gone in 2.x), no SinkFunction.
 *
 * <p>Arguments: {@code --keys N} (default 512), {@code --rate R} records/s per source subtask
 * (default 1000), {@code --fail-on-start} (the job throws at once: for rollback tests),
 * {@code --fail-at-parallelism N} (it throws only when running at parallelism N, so a rescale
 * to N fails and the rollback runs) with {@code --fail-after-ms M} (that long after its first
 * record; default 0), {@code --state-mb N} (default 0: about N MB, 10^6 bytes each, of keyed
 * state besides the counts, for the state-size bench).
 *
 * <p>With {@code --state-mb N} each key also holds a "padding" value of N MB / keys random
 * (incompressible) bytes, written once, when the key is met with no stored count: a fresh start
 * fills all of it within the first {@code keys} records (about half a second at the default
 * rate), a restart restores it and writes none. The padding is never read, so the count per
 * record costs what it costs without it; a savepoint or full checkpoint carries all of it.
 */
public final class KeyedCounterJob {

    public static void main(String[] args) throws Exception {
        int keys = intArg(args, "--keys", 512);
        int rate = intArg(args, "--rate", 1000);
        boolean failOnStart = hasArg(args, "--fail-on-start");
        int failAtParallelism = intArg(args, "--fail-at-parallelism", -1);
        long failAfterMs = intArg(args, "--fail-after-ms", 0);
        int stateMb = intArg(args, "--state-mb", 0);
        int paddingBytes = (int) Math.min(Integer.MAX_VALUE - 8, (long) stateMb * 1_000_000L / Math.max(1, keys));

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.enableCheckpointing(2000);
        env.setMaxParallelism(128);

        env.fromSequence(0, Long.MAX_VALUE)
                .uid("sequence-source")
                .name("Sequence")
                .map(new Throttle(rate, failOnStart, failAtParallelism, failAfterMs))
                .uid("throttle")
                .name("Throttle")
                .keyBy(value -> value % keys)
                .process(new CountPerKey(paddingBytes))
                .uid("counter")
                .name("Counter")
                .filter(count -> count % 1000 == 0)
                .uid("milestones")
                .name("Milestones")
                .print()
                .uid("print")
                .name("Print");

        env.execute("keyed-counter");
    }

    /** Sleeps now and then so that each subtask emits about {@code rate} records a second. */
    static final class Throttle extends RichMapFunction<Long, Long> {
        private final int rate;
        private final boolean failOnStart;
        private final int failAtParallelism;
        private final long failAfterMs;
        private long emitted;
        private long windowStartNanos;
        private long firstRecordNanos;
        private int runningParallelism;

        Throttle(int rate, boolean failOnStart, int failAtParallelism, long failAfterMs) {
            this.rate = rate;
            this.failOnStart = failOnStart;
            this.failAtParallelism = failAtParallelism;
            this.failAfterMs = failAfterMs;
        }

        @Override
        public Long map(Long value) throws Exception {
            if (failOnStart) {
                throw new IllegalStateException("sample job started with --fail-on-start");
            }
            if (firstRecordNanos == 0) {
                firstRecordNanos = System.nanoTime();
                runningParallelism = parallelism(getRuntimeContext());
            }
            if (failAtParallelism == runningParallelism
                    && System.nanoTime() - firstRecordNanos >= failAfterMs * 1_000_000L) {
                throw new IllegalStateException("sample job fails at parallelism " + failAtParallelism);
            }
            if (emitted == 0) {
                windowStartNanos = System.nanoTime();
            }
            emitted++;
            long dueNanos = windowStartNanos + emitted * 1_000_000_000L / rate;
            long aheadNanos = dueNanos - System.nanoTime();
            if (aheadNanos > 1_000_000L) {
                Thread.sleep(aheadNanos / 1_000_000L);
            }
            return value;
        }
    }

    /**
     * Keeps a count per key; reports how many keys arrived without a stored count. With
     * {@code paddingBytes} above 0, a key met without a count also gets that many random bytes
     * of padding state.
     */
    static final class CountPerKey extends KeyedProcessFunction<Long, Long, Long> {
        private final int paddingBytes;
        private transient ValueState<Long> count;
        private transient ValueState<byte[]> padding;
        private transient Counter freshKeys;
        private transient long maxCount;

        CountPerKey(int paddingBytes) {
            this.paddingBytes = paddingBytes;
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<Long> out) throws Exception {
            if (count == null) {
                count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Long.class));
                freshKeys = getRuntimeContext().getMetricGroup().counter("freshKeys");
                getRuntimeContext().getMetricGroup().gauge("maxCount", () -> maxCount);
                if (paddingBytes > 0) {
                    padding = getRuntimeContext().getState(new ValueStateDescriptor<>("padding", byte[].class));
                }
            }
            Long previous = count.value();
            if (previous == null) {
                freshKeys.inc();
                previous = 0L;
                if (padding != null) {
                    byte[] bytes = new byte[paddingBytes];
                    ThreadLocalRandom.current().nextBytes(bytes);
                    padding.update(bytes);
                }
            }
            long next = previous + 1;
            count.update(next);
            maxCount = Math.max(maxCount, next);
            out.collect(next);
        }
    }

    /** The operator's parallelism: {@code getTaskInfo()} since 1.19, the older getter in 1.18. */
    static int parallelism(Object context) throws Exception {
        try {
            Object info = context.getClass().getMethod("getTaskInfo").invoke(context);
            return (Integer) info.getClass().getMethod("getNumberOfParallelSubtasks").invoke(info);
        } catch (NoSuchMethodException olderFlink) {
            return (Integer) context.getClass().getMethod("getNumberOfParallelSubtasks").invoke(context);
        }
    }

    private static int intArg(String[] args, String name, int fallback) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return Integer.parseInt(args[i + 1]);
            }
        }
        return fallback;
    }

    private static boolean hasArg(String[] args, String name) {
        for (String arg : args) {
            if (arg.equals(name)) {
                return true;
            }
        }
        return false;
    }
}
