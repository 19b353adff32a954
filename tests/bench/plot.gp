# plot.gp - items/s on a log scale, one line per series.
#
# bench.sh runs it once per plot_NAME.gpvars that summarize.py writes:
#	gnuplot -e "load 'plot_bench.gpvars'" plot.gp
# The variables: datafile (one block per series, "x items_per_s", blocks
# separated by two blank lines), outfile, ptitle, xlab, xlog (1: log2 x),
# nseries, nsolid (the first nsolid series are shmlab: solid lines; the
# rest are baselines: dashed), titles (the series names, space-separated).

set terminal pngcairo size 1100,700 font "sans,10" noenhanced
set output outfile
set title ptitle
set xlabel xlab
set ylabel "items per second (median)"
set logscale y 10
set format y "%.0s%c"
if (xlog) set logscale x 2
set grid xtics ytics mytics lc rgb "#dddddd"
set key outside right top box width 2 spacing 1.2
set offsets graph 0.03, graph 0.03, 0, 0
set pointsize 1.2
# Distinct colours (no pale yellow), then dash types tell shmlab from the rest.
colours = "#1f77b4 #d62728 #2ca02c #9467bd #ff7f0e #17becf #8c564b #e377c2 #7f7f7f #bcbd22 #000000 #aec7e8 #98df8a #ff9896 #c5b0d5 #c49c94"
do for [i = 1:16] {
	set linetype i lc rgb word(colours, i) lw 2
}

# The shmlab lines solid, the baselines dashed.
if (nsolid < nseries) {
	plot for [i = 1:nsolid] datafile index (i - 1) using 1:2 \
		with linespoints lt i pt (i % 13 + 1) dt 1 title word(titles, i), \
	     for [i = nsolid + 1:nseries] datafile index (i - 1) using 1:2 \
		with linespoints lt i pt (i % 13 + 1) dt 2 title word(titles, i)
} else {
	plot for [i = 1:nseries] datafile index (i - 1) using 1:2 \
		with linespoints lt i pt (i % 13 + 1) dt 1 title word(titles, i)
}
