/*
 * slides_main.h - each program's -L slides entry point.  main() hands
 * over at its top when slides_wanted(argc, argv) says so.
 */
#ifndef SLIDES_MAIN_H
#define SLIDES_MAIN_H

/* Is there a -L among the arguments?  Then main() hands over. */
int	 slides_wanted(int, char *const []);
int	 slides_producer(int, char *[]);
int	 slides_consumer(int, char *[]);
int	 slides_monitor(int, char *[]);

#endif /* SLIDES_MAIN_H */
