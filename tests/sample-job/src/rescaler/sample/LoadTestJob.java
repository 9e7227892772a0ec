package rescaler.sample;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

import org.apache.flink.api.common.eventtime.WatermarkStrategy;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.TypeInformation;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.connector.source.Boundedness;
import org.apache.flink.api.connector.source.ReaderOutput;
import org.apache.flink.api.connector.source.Source;
import org.apache.flink.api.connector.source.SourceEvent;
import org.apache.flink.api.connector.source.SourceReader;
import org.apache.flink.api.connector.source.SourceReaderContext;
import org.apache.flink.api.connector.source.SplitEnumerator;
import org.apache.flink.api.connector.source.SplitEnumeratorContext;
import org.apache.flink.api.connector.source.lib.NumberSequenceSource;
import org.apache.flink.api.connector.source.lib.NumberSequenceSource.NumberSequenceSplit;
import org.apache.flink.api.java.typeutils.ResultTypeQueryable;
import org.apache.flink.core.io.InputStatus;
import org.apache.flink.core.io.SimpleVersionedSerializer;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * A load-test job whose right parallelism is known in advance: a rate-limited source and a keyed
 * operator of known cost per record.
 *
 * <p>"Source" (parallelism 1, set in code) -> keyBy(value mod keys) -> "Work" (the job's default
 * parallelism, i.e. what the submission asks for; max parallelism 128) -> "Sink" (drops every
 * record) -> "Print" (so nothing is printed). Every operator has a uid; checkpointing runs every
 * 2 s; Work keeps a count per key in keyed state, so a savepoint carries state.
 *
 * <p><b>The source.</b> A number sequence whose records fall due at a total rate of {@code --rate}
 * records a second, whatever the parallelism of Work: the source always runs as one subtask.
 * Between records it waits outside the operator (its reader reports "nothing available" with a
 * timer), so Flink counts that time as idle, not busy, and the source vertex is busy only while
 * it emits. Records that fell due but could not be emitted (Work back-pressures it) are a
 * backlog, reported as the source's {@code pendingRecords} metric, and emitted as fast as Work
 * takes them once it can: the source behaves like a queue its producers fill at the given rate.
 * The backlog lives in memory only: after a restart (a rescale from a savepoint, say) it starts
 * at zero, while the sequence itself resumes where the savepoint left it.
 *
 * <p>With {@code --rate-file PATH} the source reads the rate (a decimal number of records a
 * second) from that file on its first record and then once a second, so a test raises and lowers
 * the rate of a running job without a restart; a restarted job reads the same file and so keeps
 * the current rate. A missing or unreadable file keeps the rate it had ({@code --rate} at first).
 * A rate of 0 pauses the source.
 *
 * <p><b>The cost.</b> Work charges {@code --cost-us} microseconds per record as <i>time</i>, not
 * CPU: it adds the cost to a debt and, once the debt reaches 1 ms, parks the thread for it and
 * subtracts the time it really slept (so over- and under-sleeping even out). Time inside
 * processElement is busy time to Flink, so Work's {@code busyTimeMsPerSecond} is about
 * {@code records_per_subtask_per_s * cost_us / 1000}, and a subtask tops out at about
 * {@code 1e6 / cost_us} records a second, independent of how many cores the machine has and of
 * what else runs on it. It stands in for a CPU-bound operator; unlike one, it does not slow down
 * when subtasks share a core.
 *
 * <p><b>The expected answer.</b> At rate R and cost C microseconds Work needs R*C/1e6 subtasks at
 * 100 % busy; sized for a target utilisation u (0.7 in the product) it needs
 * ceil(R*C/1e6/u), rounded up to a divisor of 128 for the keyed vertex: R=1000, C=1000 gives 1.43,
 * so 2; R=2500, C=1000 gives 3.57, so 4.
 *
 * <p><b>Reading the metrics.</b> Flink's {@code busyTimeMsPerSecond} and
 * {@code backPressuredTimeMsPerSecond} average the last 60 s (over the part of the window that has
 * passed, right after a start), and {@code numRecordsInPerSecond} is the count of the last 60 s
 * divided by 60 even when the task ran for less: in the first minute after a start it reads low.
 *
 * <p>Arguments: {@code --rate R} (default 1000), {@code --rate-file PATH} (none),
 * {@code --cost-us C} (default 1000), {@code --keys N} (default 512). Written against the API
 * common to Flink 1.18 through 2.x (the FLIP-27 Source interfaces, NumberSequenceSource).
 */
public final class LoadTestJob {

    public static void main(String[] args) throws Exception {
        double rate = Double.parseDouble(stringArg(args, "--rate", "1000"));
        String rateFile = stringArg(args, "--rate-file", null);
        long costMicros = Long.parseLong(stringArg(args, "--cost-us", "1000"));
        int keys = Integer.parseInt(stringArg(args, "--keys", "512"));

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        env.enableCheckpointing(2000);
        env.setMaxParallelism(128);

        env.fromSource(new RateLimitedSequence(rate, rateFile), WatermarkStrategy.noWatermarks(), "Source")
                .setParallelism(1)
                .uid("load-source")
                .name("Source")
                .keyBy(value -> value % keys)
                .process(new Work(costMicros))
                .uid("work")
                .name("Work")
                .filter(count -> false)
                .uid("sink")
                .name("Sink")
                .print()
                .uid("print")
                .name("Print");

        env.execute("load-test");
    }

    /** NumberSequenceSource with a reader that lets records out only as they fall due. */
    static final class RateLimitedSequence
            implements Source<Long, NumberSequenceSplit, Collection<NumberSequenceSplit>>,
                    ResultTypeQueryable<Long> {
        private final NumberSequenceSource sequence = new NumberSequenceSource(0, Long.MAX_VALUE);
        private final double rate;
        private final String rateFile;

        RateLimitedSequence(double rate, String rateFile) {
            this.rate = rate;
            this.rateFile = rateFile;
        }

        @Override
        public Boundedness getBoundedness() {
            return Boundedness.CONTINUOUS_UNBOUNDED;
        }

        @Override
        public SourceReader<Long, NumberSequenceSplit> createReader(SourceReaderContext context) throws Exception {
            RateLimitedReader reader = new RateLimitedReader(sequence.createReader(context), rate, rateFile);
            context.metricGroup().setPendingRecordsGauge(reader::backlog);
            return reader;
        }

        @Override
        public SplitEnumerator<NumberSequenceSplit, Collection<NumberSequenceSplit>> createEnumerator(
                SplitEnumeratorContext<NumberSequenceSplit> context) throws Exception {
            return sequence.createEnumerator(context);
        }

        @Override
        public SplitEnumerator<NumberSequenceSplit, Collection<NumberSequenceSplit>> restoreEnumerator(
                SplitEnumeratorContext<NumberSequenceSplit> context, Collection<NumberSequenceSplit> checkpoint)
                throws Exception {
            return sequence.restoreEnumerator(context, checkpoint);
        }

        @Override
        public SimpleVersionedSerializer<NumberSequenceSplit> getSplitSerializer() {
            return sequence.getSplitSerializer();
        }

        @Override
        public SimpleVersionedSerializer<Collection<NumberSequenceSplit>> getEnumeratorCheckpointSerializer() {
            return sequence.getEnumeratorCheckpointSerializer();
        }

        @Override
        public TypeInformation<Long> getProducedType() {
            return Types.LONG;
        }
    }

    /**
     * Wraps the sequence's reader. {@code owed} is the number of records that fell due and were
     * not emitted yet (fractional between records); a record goes out only when one is owed.
     */
    static final class RateLimitedReader implements SourceReader<Long, NumberSequenceSplit> {
        private static final long MIN_WAIT_NANOS = 1_000_000L;
        private static final long RATE_READ_NANOS = 1_000_000_000L;

        private final SourceReader<Long, NumberSequenceSplit> sequence;
        private final String rateFile;
        private volatile double rate;
        private volatile double owed;
        private long lastTickNanos;
        private long lastRateReadNanos;
        private boolean started;
        private CompletableFuture<Void> waiting;

        RateLimitedReader(SourceReader<Long, NumberSequenceSplit> sequence, double rate, String rateFile) {
            this.sequence = sequence;
            this.rate = rate;
            this.rateFile = rateFile;
        }

        /** Records due and not yet emitted. */
        long backlog() {
            return Math.max(0L, (long) owed);
        }

        @Override
        public void start() {
            sequence.start();
        }

        @Override
        public InputStatus pollNext(ReaderOutput<Long> output) throws Exception {
            waiting = null;
            long now = System.nanoTime();
            if (!started) {
                started = true;
                lastTickNanos = now;
                readRate(now);
            } else if (now - lastRateReadNanos >= RATE_READ_NANOS) {
                readRate(now);
            }
            owed += (now - lastTickNanos) * rate / 1e9;
            lastTickNanos = now;
            if (owed < 1.0) {
                long untilDue = rate > 0 ? (long) ((1.0 - owed) * 1e9 / rate) : RATE_READ_NANOS;
                long wait = Math.max(MIN_WAIT_NANOS, Math.min(untilDue, RATE_READ_NANOS));
                waiting = CompletableFuture.runAsync(
                        () -> {}, CompletableFuture.delayedExecutor(wait, TimeUnit.NANOSECONDS));
                return InputStatus.NOTHING_AVAILABLE;
            }
            InputStatus status = sequence.pollNext(output);
            // The sequence's reader emits exactly one record when it answers MORE_AVAILABLE.
            if (status == InputStatus.MORE_AVAILABLE) {
                owed -= 1.0;
            }
            return status;
        }

        private void readRate(long now) {
            lastRateReadNanos = now;
            if (rateFile == null) {
                return;
            }
            try {
                String text = new String(Files.readAllBytes(Paths.get(rateFile)), StandardCharsets.UTF_8);
                double read = Double.parseDouble(text.trim());
                if (read >= 0 && !Double.isInfinite(read)) {
                    rate = read;
                }
            } catch (Exception unreadable) {
                // Keep the current rate: the file may be missing or half written.
            }
        }

        @Override
        public CompletableFuture<Void> isAvailable() {
            CompletableFuture<Void> timer = waiting;
            return timer != null ? timer : sequence.isAvailable();
        }

        @Override
        public List<NumberSequenceSplit> snapshotState(long checkpointId) {
            return sequence.snapshotState(checkpointId);
        }

        @Override
        public void addSplits(List<NumberSequenceSplit> splits) {
            sequence.addSplits(splits);
        }

        @Override
        public void notifyNoMoreSplits() {
            sequence.notifyNoMoreSplits();
        }

        @Override
        public void handleSourceEvents(SourceEvent event) {
            sequence.handleSourceEvents(event);
        }

        @Override
        public void notifyCheckpointComplete(long checkpointId) throws Exception {
            sequence.notifyCheckpointComplete(checkpointId);
        }

        @Override
        public void close() throws Exception {
            sequence.close();
        }
    }

    /** Keeps a count per key and charges a fixed time per record (see the class comment). */
    static final class Work extends KeyedProcessFunction<Long, Long, Long> {
        private static final long MIN_SLEEP_NANOS = 1_000_000L;

        private final long costNanos;
        private transient ValueState<Long> count;
        private transient long debtNanos;

        Work(long costMicros) {
            this.costNanos = costMicros * 1_000L;
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<Long> out) throws Exception {
            if (count == null) {
                count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Long.class));
            }
            Long previous = count.value();
            long next = (previous == null ? 0L : previous) + 1;
            count.update(next);
            debtNanos += costNanos;
            if (debtNanos >= MIN_SLEEP_NANOS) {
                long start = System.nanoTime();
                LockSupport.parkNanos(debtNanos);
                debtNanos -= System.nanoTime() - start;
            }
            out.collect(next);
        }
    }

    private static String stringArg(String[] args, String name, String fallback) {
        for (int i = 0; i + 1 < args.length; i++) {
            if (args[i].equals(name)) {
                return args[i + 1];
            }
        }
        return fallback;
    }
}
