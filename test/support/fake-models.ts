import assert from 'node:assert/strict';

interface Poster {
  post(path: string, body: unknown): Promise<{ status: number; body: any; text: string }>;
}

export interface FakeModel {
  purpose: 'text' | 'image' | 'speech' | 'transcription';
  modelName: string;
  isDefault?: boolean;
  /** A text model that reads images (the model record's accepts_images). */
  acceptsImages?: boolean;
  inputPricePerToken?: number;
  outputPricePerToken?: number;
}

/**
 * A `provider` record pointing at the fake provider server and `model` records on it, made
 * through the API as an org admin would; the key lives in the environment variable it names.
 */
export async function configureFakeModels(admin: Poster, fakeUrl: string, apiKeyEnv: string, models: FakeModel[]): Promise<{ providerId: string; modelIds: string[] }> {
  const provider = await admin.post('/provider/create', { name: 'Fake', data: { kind: 'openai_compatible', base_url: fakeUrl, api_key_env: apiKeyEnv } });
  assert.equal(provider.status, 200, provider.text);
  const modelIds: string[] = [];
  for (const model of models) {
    const created = await admin.post('/model/create', {
      name: model.modelName,
      data: {
        provider_id: provider.body.id,
        model_name: model.modelName,
        purpose: model.purpose,
        ...(model.isDefault ? { is_default: true } : {}),
        ...(model.acceptsImages ? { accepts_images: true } : {}),
        input_price_per_token: model.inputPricePerToken ?? 0,
        output_price_per_token: model.outputPricePerToken ?? 0,
      },
    });
    assert.equal(created.status, 200, created.text);
    modelIds.push(created.body.id);
  }
  return { providerId: provider.body.id, modelIds };
}
