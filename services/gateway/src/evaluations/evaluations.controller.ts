import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { EvaluationRecord, evaluationSpecSchema, identifierSchema } from '@hounsfield/contracts';
import { validateOr400 } from '../http/validation';
import { EvaluationsClient } from './evaluations.client';

/**
 * Batch evaluations of a diffusion + voxelization checkpoint pair on a dataset split: submit one,
 * then follow its progress (cases done/total, ETA) until it shows the summary and report links.
 */
@Controller('v1/evaluations')
export class EvaluationsController {
  constructor(private readonly evaluations: EvaluationsClient) {}

  /** Validated here (400 with field paths), then the service pins the checkpoints and submits the shards. */
  @Post()
  @HttpCode(201)
  create(@Body() body: unknown): Promise<EvaluationRecord> {
    validateOr400(evaluationSpecSchema, body, 'the evaluation spec');
    return this.evaluations.create(body);
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<EvaluationRecord> {
    return this.evaluations.get(validateOr400(identifierSchema, id, 'the evaluation id'));
  }
}
