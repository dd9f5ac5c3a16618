import type { Logger } from '@aws-lambda-powertools/logger';
import type { SQSRecord } from 'aws-lambda';
import { type AlertDigest, countsByCode, type DigestSummary } from '../core/alert-digest.js';
import type { ThumbnailerError } from '../core/errors.js';
import type { AltTextModel } from '../ports.js';

/**
 * Alt text that fails because of the deployment, not the image: the model refuses the function
 * (access denied, credentials), does not know the model id, or the quota is gone. Every image
 * then fails the same way, permanently, so a person must act: the alt-text handler sends an
 * alert digest (at most one every few minutes) that names the model and what to change.
 */
const FIXES: Record<string, string> = {
  PROVIDER_AUTH:
    'Grant the alt-text function bedrock:InvokeModel on what it calls (with the Terraform module: set alt_text_model to the model or inference profile id actually called; a profile is granted with the foundation model in every Region it routes to) and, for a third-party model, alt_text_marketplace_product_ids for its first use. The message below says exactly which ARNs.',
  PROVIDER_BAD_REQUEST:
    'The provider does not accept the model id: check ALT_TEXT_MODEL (alt_text_model) and that the model is offered in this Region, or use its cross-Region inference profile id (us., eu., apac., global.).',
  PROVIDER_QUOTA:
    "The account's quota for the model is used up: ask for more in Service Quotas, or lower alt_text_maximum_concurrency.",
};

export async function alertOnModelRefusal(
  deps: { alerts?: AlertDigest; model?: AltTextModel; logger: Logger },
  record: SQSRecord,
  key: string,
  error: ThumbnailerError,
): Promise<void> {
  if (!deps.alerts || !(error.code in FIXES)) return;
  const queue = record.eventSourceARN.split(':').pop() ?? 'alt-text';
  try {
    const outcome = await deps.alerts.report(
      queue,
      [{ code: error.code, key, message: error.message }],
      (summary) => renderModelAlert(summary, deps.model),
    );
    deps.logger.error('alert: the model refuses alt text', {
      alert: true,
      code: error.code,
      digest: outcome,
    });
  } catch (failure) {
    // The record says failed and the PermanentFailures alarm counts it: the digest is extra.
    deps.logger.warn('could not send or hold the alert digest', { error: String(failure) });
  }
}

export function renderModelAlert(summary: DigestSummary, model: AltTextModel | undefined) {
  const name = model ? `${model.provider} ${model.model}` : 'the model';
  const codes = Object.keys(summary.byCode);
  return {
    subject: `Thumbnailer: alt text failing (${codes.join(', ')}) for ${name}: ${summary.total} image${summary.total === 1 ? '' : 's'}`,
    message: JSON.stringify(
      {
        summary: `${summary.total} image${summary.total === 1 ? '' : 's'} got no alt text since ${summary.since}: ${countsByCode(summary.byCode)}. Every image will fail the same way until the setting below is changed.`,
        provider: model?.provider,
        model: model?.model,
        queue: summary.channel,
        byCode: summary.byCode,
        fix: codes.map((code) => FIXES[code]).filter(Boolean),
        examples: summary.examples,
        afterwards:
          'The failed images keep "status": "failed" in their alt-text record; once fixed, re-upload them (an S3 copy of an object onto itself raises its event again) or regenerate from the page.',
      },
      null,
      2,
    ),
    attributes: { queue: summary.channel, code: codes.join(',') },
  };
}
