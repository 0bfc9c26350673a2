import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiUser, createUserRequestSchema, pageQueryShape, Principal, updateUserRequestSchema, userNameSchema } from '@hounsfield/contracts';
import { z } from 'zod';
import { pageOf } from '../http/paging';
import { validateOr400 } from '../http/validation';
import { CurrentPrincipal, Requires } from './auth.decorators';
import { AuthService } from './auth.service';

const listQuerySchema = z.object(pageQueryShape).strict();

/** API users and their roles (admins only). */
@Controller('v1/users')
@Requires('users:manage')
export class UsersController {
  constructor(private readonly auth: AuthService) {}

  @Post()
  @HttpCode(201)
  create(@Body() body: unknown): Promise<ApiUser> {
    const { name, role } = validateOr400(createUserRequestSchema, body, 'the user');
    return this.auth.createUser(name, role);
  }

  @Get()
  async list(@Query() query: unknown): Promise<{ users: ApiUser[]; nextCursor?: string }> {
    const { limit, cursor } = validateOr400(listQuerySchema, query, 'the query');
    const page = pageOf(await this.auth.listUsers(), (user) => user.name, limit, cursor);
    return { users: page.items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  /** A new role (applies to every token of the user at once), or disabled / enabled. */
  @Patch(':name')
  update(@CurrentPrincipal() principal: Principal, @Param('name') name: string, @Body() body: unknown): Promise<ApiUser> {
    const user = validateOr400(userNameSchema, name, 'the user name');
    return this.auth.updateUser(principal, user, validateOr400(updateUserRequestSchema, body, 'the update'));
  }
}
