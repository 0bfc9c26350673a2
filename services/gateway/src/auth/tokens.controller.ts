import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiToken,
  apiTokenIdSchema,
  CreatedApiToken,
  createTokenRequestSchema,
  pageQueryShape,
  Principal,
  StreamTicket,
  streamTicketRequestSchema,
  userNameSchema,
} from '@hounsfield/contracts';
import { z } from 'zod';
import { pageOf } from '../http/paging';
import { validateOr400 } from '../http/validation';
import { CurrentPrincipal } from './auth.decorators';
import { AuthService } from './auth.service';

const listQuerySchema = z.object({ user: userNameSchema.optional(), ...pageQueryShape }).strict();

/**
 * API tokens: anyone creates, lists and revokes its own; admins those of every user. A token's
 * secret is in the creation answer only; the platform keeps its SHA-256.
 */
@Controller('v1')
export class TokensController {
  constructor(private readonly auth: AuthService) {}

  /** Who the token belongs to and its role. */
  @Get('whoami')
  whoami(@CurrentPrincipal() principal: Principal): Principal {
    return principal;
  }

  @Post('tokens')
  @HttpCode(201)
  create(@CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<CreatedApiToken> {
    return this.auth.createToken(principal, validateOr400(createTokenRequestSchema, body, 'the token request'));
  }

  @Get('tokens')
  async list(@CurrentPrincipal() principal: Principal, @Query() query: unknown): Promise<{ tokens: ApiToken[]; nextCursor?: string }> {
    const { user, limit, cursor } = validateOr400(listQuerySchema, query, 'the query');
    const page = pageOf(await this.auth.listTokens(principal, user), (token) => token.id, limit, cursor);
    return { tokens: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  /** Revokes at once; the token's next request is refused. */
  @Delete('tokens/:id')
  revoke(@CurrentPrincipal() principal: Principal, @Param('id') id: string): Promise<ApiToken> {
    return this.auth.revokeToken(principal, validateOr400(apiTokenIdSchema, id, 'the token id'));
  }

  /** A 60-second ticket for one event stream (`GET <path>?ticket=…`), for clients that cannot send headers. */
  @Post('stream-tickets')
  @HttpCode(201)
  ticket(@CurrentPrincipal() principal: Principal, @Body() body: unknown): Promise<StreamTicket> {
    const { path } = validateOr400(streamTicketRequestSchema, body, 'the ticket request');
    return this.auth.issueTicket(principal, path);
  }
}
