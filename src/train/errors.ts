/**
 * An option that does not fit the data or the run, found only once they are open (e.g. a schedule
 * shorter than one step). The CLI reports it as bad usage, like DataSpecError.
 */
export class TrainOptionError extends Error {}
