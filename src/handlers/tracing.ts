import type { Context } from 'aws-lambda';

/**
 * X-Ray tracing through the Powertools Tracer, when the function's POWERTOOLS_TRACE_ENABLED is
 * "true" (the Terraform module's `tracing`, which also sets the function's tracing mode Active).
 * Otherwise the tracer and the X-Ray SDK are never imported: no cold-start cost.
 */
export interface Tracing {
  /** Records the client's AWS calls as subsegments (S3, SQS, SNS, Bedrock). */
  capture<T>(client: T): T;
  /** One subsegment per invocation, annotated with the cold start and the service. */
  wrap<E, R>(handler: Handler<E, R>): Handler<E, R>;
}

/** An SQS batch handler or the upload function's HTTP handler. */
type Handler<E, R> = (event: E, context?: Context) => Promise<R>;

const OFF: Tracing = { capture: (client) => client, wrap: (handler) => handler };

export async function tracingFromEnv(
  service: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Tracing> {
  if (env.POWERTOOLS_TRACE_ENABLED !== 'true') return OFF;
  const { Tracer } = await import('@aws-lambda-powertools/tracer');
  const tracer = new Tracer({ serviceName: service });
  const name = `## ${env._HANDLER ?? 'handler'}`;
  return {
    capture: (client) => tracer.captureAWSv3Client(client),
    wrap:
      <E, R>(handler: Handler<E, R>) =>
      async (event: E, context?: Context): Promise<R> => {
        const parent = tracer.getSegment();
        if (!parent) return handler(event, context);
        const subsegment = parent.addNewSubsegment(name);
        tracer.setSegment(subsegment);
        tracer.annotateColdStart();
        tracer.addServiceNameAnnotation();
        try {
          const result = await handler(event, context);
          tracer.addResponseAsMetadata(result, name);
          return result;
        } catch (error) {
          tracer.addErrorAsMetadata(error as Error);
          throw error;
        } finally {
          subsegment.close();
          tracer.setSegment(parent);
        }
      },
  };
}
